"""Procedural table-top backgrounds. Textured on purpose: ego-motion estimation needs features."""

from __future__ import annotations

import cv2
import numpy as np


def _smooth_noise(rng: np.random.Generator, side: int, cells: int) -> np.ndarray:
    coarse = rng.random((cells, cells, 3)).astype(np.float32)
    return cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)


def tiles(rng: np.random.Generator, side: int) -> np.ndarray:
    n = int(rng.integers(6, 14))
    palette = rng.random((2, 3)) * 0.6 + 0.2
    yy, xx = np.mgrid[0:side, 0:side] * n // side
    img = palette[(yy + xx) % 2].astype(np.float32)
    return img * (0.85 + 0.3 * _smooth_noise(rng, side, 16))


def wood(rng: np.random.Generator, side: int) -> np.ndarray:
    base = rng.random(3) * 0.4 + np.array([0.45, 0.3, 0.15])
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    warp = _smooth_noise(rng, side, 6)[..., 0] * 3.0
    rings = 0.5 + 0.5 * np.sin((xx * rng.uniform(15, 30) + warp) * np.pi)
    return (base[None, None] * (0.7 + 0.3 * rings[..., None])).astype(np.float32)


def blobs(rng: np.random.Generator, side: int) -> np.ndarray:
    img = sum(_smooth_noise(rng, side, c) * w for c, w in ((4, 0.5), (12, 0.3), (40, 0.2)))
    tint = rng.random(3) * 0.5 + 0.5
    return (img * tint).astype(np.float32)


def speckled_mat(rng: np.random.Generator, side: int) -> np.ndarray:
    img = np.ones((side, side, 3), np.float32) * (rng.random(3) * 0.5 + 0.25)
    for _ in range(int(side * side / 150)):
        x, y = rng.integers(0, side, 2)
        colour = tuple(float(c) for c in rng.random(3))
        cv2.circle(img, (int(x), int(y)), int(rng.integers(1, 4)), colour, -1)
    for _ in range(8):
        p1, p2 = rng.integers(0, side, 2), rng.integers(0, side, 2)
        cv2.line(img, tuple(int(v) for v in p1), tuple(int(v) for v in p2), (0.1, 0.1, 0.1), 1)
    return img


TEXTURES = {"tiles": tiles, "wood": wood, "blobs": blobs, "speckled_mat": speckled_mat}


def make_background(rng: np.random.Generator, side: int) -> tuple[str, np.ndarray]:
    name = list(TEXTURES)[int(rng.integers(len(TEXTURES)))]
    return name, np.clip(TEXTURES[name](rng, side), 0, 1)

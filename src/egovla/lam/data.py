"""Frame-pair transitions (t, t+k) from a corpus, with per-patch foreground shares from the masks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from egovla.ingest.store import Corpus
from egovla.masks.store import read_episode, resolve_masks_dir


def split_episodes(episodes: list[int], eval_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic train/eval split by episode (never by frame: neighbouring frames leak)."""
    if len(episodes) < 2 or eval_fraction <= 0:
        return list(episodes), []
    order = np.random.default_rng(seed).permutation(len(episodes))
    n_eval = max(1, int(round(eval_fraction * len(episodes))))
    held = {episodes[i] for i in order[:n_eval]}
    return [e for e in episodes if e not in held], [e for e in episodes if e in held]


def patch_shares(masks: np.ndarray, grid: int) -> np.ndarray:
    """(T, H, W) bool -> (T, grid*grid) share of foreground pixels in each patch."""
    return np.stack(
        [cv2.resize(m.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA).ravel() for m in masks]
    )


class Transitions:
    """All (episode, t) with t + gap inside the episode; frames held resized in memory."""

    def __init__(
        self,
        corpus_dir: str | Path,
        episodes: list[int],
        image_size: int,
        gap: int,
        grid: int,
        masks_dir: str | Path | None = None,
        use_masks: bool = True,
        foreground: str = "target",
    ):
        corpus = Corpus(corpus_dir)
        self.gap = gap
        self.frames: dict[int, np.ndarray] = {}
        self.fg: dict[int, np.ndarray] = {}
        folder = resolve_masks_dir(corpus_dir, masks_dir) if use_masks else None
        for e in episodes:
            video = corpus.read_frames(e)
            if len(video) <= gap:
                continue
            self.frames[e] = np.stack(
                [cv2.resize(f, (image_size, image_size), interpolation=cv2.INTER_AREA) for f in video]
            )
            if use_masks:
                try:
                    masks = read_episode(folder, e)[0]
                except FileNotFoundError as exc:
                    raise FileNotFoundError(f"{exc}; the mask-weighted loss needs `egovla masks` first") from exc
                shares = patch_shares(masks, grid)
                self.fg[e] = shares[gap:] if foreground == "target" else np.maximum(shares[:-gap], shares[gap:])
        self.index = [(e, t) for e, v in self.frames.items() for t in range(len(v) - gap)]
        self.tokens: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.index)

    def cache_tokens(self, features: torch.nn.Module, batch: int = 64) -> None:
        """Runs every frame through a frozen encoder once: batches then carry its tokens (B, N, D)
        instead of frames, and a training step never runs the encoder."""
        for e, video in self.frames.items():
            parts = [features(_to_tensor(video[i : i + batch])) for i in range(0, len(video), batch)]
            self.tokens[e] = torch.cat(parts)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Frames (B, 3, H, W) in [0, 1], or their tokens once cached, for t and t+k, and the
        foreground shares (B, N)."""
        pairs = [self.index[i] for i in rows]
        fg = torch.from_numpy(np.stack([self.fg[e][t] for e, t in pairs])) if self.fg else None
        if self.tokens:
            a = torch.stack([self.tokens[e][t] for e, t in pairs])
            return a, torch.stack([self.tokens[e][t + self.gap] for e, t in pairs]), fg
        a = np.stack([self.frames[e][t] for e, t in pairs])
        b = np.stack([self.frames[e][t + self.gap] for e, t in pairs])
        return _to_tensor(a), _to_tensor(b), fg


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


@dataclass(frozen=True)
class Augmentation:
    """One flip/transpose of the image square and one colour-channel order, applied alike to both
    frames of a pair and to its foreground grid. A motion stays a motion (mirrored), but a small
    corpus can no longer be memorised by its tables and colours: without it the tiny encoder,
    trained directly on the true displacements of a small corpus, fits its own episodes and fails on
    held-out ones.
    On a larger corpus it costs some reading of motion but buys background-swap invariance, so it
    stays on (benchmarks/lam_encoder_ceiling.py, benchmarks/lam_disentangle.py)."""

    flip_x: bool
    flip_y: bool
    transpose: bool
    channels: tuple[int, ...]

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Augmentation:
        return cls(
            bool(rng.random() < 0.5),
            bool(rng.random() < 0.5),
            bool(rng.random() < 0.5),
            tuple(int(c) for c in rng.permutation(3)),
        )

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) tokens of a square grid, moved as their image cells would be. A colour order has
        no counterpart in a feature map, so only the flips and the transpose apply."""
        side = int(round(x.shape[1] ** 0.5))
        grid = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], side, side)
        return self.images(grid, colour=False).flatten(2).transpose(1, 2).contiguous()

    def images(self, x: torch.Tensor, colour: bool = True) -> torch.Tensor:
        """(B, C, H, W) images, or (B, H, W) grids with ``colour=False``."""
        flips = [dim for dim, flip in ((-1, self.flip_x), (-2, self.flip_y)) if flip]
        if flips:
            x = x.flip(flips)
        if self.transpose:
            x = x.transpose(-1, -2)
        return x[:, list(self.channels)] if colour else x

    def displacement(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) image-plane motions, mirrored as the images are."""
        xy = xy * np.array([-1 if self.flip_x else 1, -1 if self.flip_y else 1])
        return xy[:, ::-1].copy() if self.transpose else xy


def augment(
    frames_t: torch.Tensor,
    frames_tk: torch.Tensor,
    fg: torch.Tensor | None,
    rng: np.random.Generator,
    tokens: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """A batch of pairs (and their (B, N) foreground shares) under one random Augmentation;
    ``tokens``: the pairs are cached encoder tokens (B, N, D), not frames."""
    aug = Augmentation.draw(rng)
    if fg is not None:
        side = int(round(fg.shape[1] ** 0.5))
        fg = aug.images(fg.view(-1, side, side), colour=False).reshape(fg.shape).contiguous()
    move = aug.tokens if tokens else aug.images
    return move(frames_t), move(frames_tk), fg

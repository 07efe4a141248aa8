"""Mask storage: one bit-packed npz per episode (lossless), keyed by (episode, frame).

    <masks_dir>/episode_000003.npz    packed (T, H, ceil(W/8)) uint8, shape, coverage, flags, config_hash
    <masks_dir>/frames.parquet        episode_index, frame_index, coverage, flags
    <masks_dir>/summary.parquet       one row per episode
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from egovla.io.atomic import atomic_path

DEFAULT_BACKEND = "motion"


def default_masks_dir(corpus_dir: str | Path, backend: str = DEFAULT_BACKEND) -> Path:
    return Path(corpus_dir) / "masks" / backend


def episode_file(masks_dir: Path, episode_index: int) -> Path:
    return masks_dir / f"episode_{episode_index:06d}.npz"


def write_episode(masks_dir: Path, episode_index: int, masks: np.ndarray, flags: list[list[str]],
                  config_hash: str) -> None:
    coverage = masks.reshape(len(masks), -1).mean(axis=1) if len(masks) else np.zeros(0)
    with atomic_path(episode_file(masks_dir, episode_index)) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, packed=np.packbits(masks, axis=-1), shape=np.array(masks.shape),
                                coverage=coverage.astype(np.float32), flags=np.array(json.dumps(flags)),
                                config_hash=np.array(config_hash))


def stored_config_hash(masks_dir: Path, episode_index: int) -> str | None:
    path = episode_file(masks_dir, episode_index)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["config_hash"])
    except (OSError, ValueError, KeyError):
        return None  # unreadable: recompute


def read_episode(masks_dir: Path, episode_index: int) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    path = episode_file(masks_dir, episode_index)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no masks for episode {episode_index} (run `egovla masks` first)")
    with np.load(path, allow_pickle=False) as data:
        shape = tuple(int(v) for v in data["shape"])
        masks = np.unpackbits(data["packed"], axis=-1, count=shape[-1]).astype(bool).reshape(shape)
        return masks, data["coverage"], json.loads(str(data["flags"]))


def read_masks(corpus_dir: str | Path, episode_index: int, backend: str = DEFAULT_BACKEND,
               masks_dir: str | Path | None = None) -> np.ndarray:
    """Masks of one episode: bool array (frames, height, width) aligned with the episode's frames.

    ``masks_dir`` overrides the default location ``<corpus>/masks/<backend>`` (DVC keeps masks in
    their own output folder).
    """
    folder = Path(masks_dir) if masks_dir is not None else default_masks_dir(corpus_dir, backend)
    return read_episode(folder, episode_index)[0]

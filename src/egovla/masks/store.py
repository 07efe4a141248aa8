"""Mask storage: one bit-packed npz per episode (lossless), keyed by (episode, frame).

    <masks_dir>/episode_000003.npz    packed (T, H, ceil(W/8)) uint8, shape, coverage, flags, config_hash
    <masks_dir>/frames.parquet        episode_index, frame_index, coverage, flags
    <masks_dir>/summary.parquet       one row per episode
    <masks_dir>/config.json           the resolved MaskConfig that made them (its backend among it)

A consumer names the masks folder, or lets ``resolve_masks_dir`` find the one under ``<corpus>/masks/``
whichever backend made it.
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


def write_episode(
    masks_dir: Path, episode_index: int, masks: np.ndarray, flags: list[list[str]], config_hash: str
) -> None:
    coverage = masks.reshape(len(masks), -1).mean(axis=1) if len(masks) else np.zeros(0)
    with atomic_path(episode_file(masks_dir, episode_index)) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            packed=np.packbits(masks, axis=-1),
            shape=np.array(masks.shape),
            coverage=coverage.astype(np.float32),
            flags=np.array(json.dumps(flags)),
            config_hash=np.array(config_hash),
        )


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


def resolve_masks_dir(corpus_dir: str | Path, masks_dir: str | Path | None = None) -> Path:
    """The masks folder to read: ``masks_dir`` if given, else the one backend folder under
    ``<corpus>/masks/`` (an error names them when there are several, or says to run the stage)."""
    if masks_dir is not None:
        folder = Path(masks_dir)
        if not (folder / "config.json").exists():
            raise FileNotFoundError(f"{folder}: not a masks folder (no config.json; run `egovla masks` first)")
        return folder
    made = sorted(p.parent for p in (Path(corpus_dir) / "masks").glob("*/config.json"))
    if not made:
        raise FileNotFoundError(f"{Path(corpus_dir) / 'masks'}: no masks for this corpus (run `egovla masks` first)")
    if len(made) > 1:
        raise ValueError(
            f"{Path(corpus_dir) / 'masks'}: masks from several backends "
            f"({', '.join(p.name for p in made)}); name one with masks_dir / --masks-dir"
        )
    return made[0]


def backend_of(masks_dir: Path) -> str:
    return str(json.loads((masks_dir / "config.json").read_text()).get("backend", DEFAULT_BACKEND))


def read_masks(corpus_dir: str | Path, episode_index: int, masks_dir: str | Path | None = None) -> np.ndarray:
    """Masks of one episode: bool array (frames, height, width) aligned with the episode's frames."""
    return read_episode(resolve_masks_dir(corpus_dir, masks_dir), episode_index)[0]

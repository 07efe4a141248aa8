"""Latent-action labels: every transition's action (and discrete background) codes, per episode.

    <labels>/episode_000003.parquet   frame_index, target_frame_index, action_0.., background_0..
    <labels>/info.json                the LAM that made them (folder, weights hash, frame gap, codebook)

Default folder: ``<corpus>/latent_actions`` (DVC and kfp keep it in a folder of its own).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from egovla.io.atomic import atomic_write_json, atomic_write_parquet
from egovla.io.tables import read_parquet

LABELS = "latent_actions"


def labels_dir(corpus_dir: str | Path, folder: str | Path | None = None) -> Path:
    return Path(folder) if folder is not None else Path(corpus_dir) / LABELS


def episode_path(folder: Path, episode_index: int) -> Path:
    return folder / f"episode_{episode_index:06d}.parquet"


def write_codes(folder: Path, episode_index: int, gap: int, action: np.ndarray, background: np.ndarray | None) -> None:
    table = {"frame_index": np.arange(len(action)), "target_frame_index": np.arange(len(action)) + gap}
    table |= {f"action_{j}": action[:, j] for j in range(action.shape[1])}
    if background is not None:
        table |= {f"background_{j}": background[:, j] for j in range(background.shape[1])}
    atomic_write_parquet(episode_path(folder, episode_index), pd.DataFrame(table))


def write_info(folder: Path, info: dict) -> None:
    atomic_write_json(folder / "info.json", info)


def label_info(corpus_dir: str | Path, folder: str | Path | None = None) -> dict:
    path = labels_dir(corpus_dir, folder) / "info.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: the corpus has no latent-action labels (run `egovla lam label` first)")
    return json.loads(path.read_text())


def read_codes(
    corpus_dir: str | Path, episode_index: int, background: bool = False, folder: str | Path | None = None
) -> np.ndarray:
    """Action codes of one episode: int64 (transitions, tokens); row i is the transition (i, i+k).
    ``background=True`` returns the background codes instead (discrete background only)."""
    path = episode_path(labels_dir(corpus_dir, folder), episode_index)
    if not path.exists():
        raise FileNotFoundError(f"{path}: episode {episode_index} is not labelled (run `egovla lam label`)")
    table = read_parquet(path)
    prefix = "background_" if background else "action_"
    columns = [c for c in table.columns if c.startswith(prefix)]
    if not columns:
        raise ValueError(f"{path}: no {prefix[:-1]} codes (continuous background?)")
    return table[columns].to_numpy(np.int64)

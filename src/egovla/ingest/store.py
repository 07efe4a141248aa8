"""A footage corpus: a LeRobotDataset v3 (one camera, ``observation.images.ego``) plus its manifest,
its rejects and the ground truth of generated clips.

    <LeRobotDataset v3 layout>          see egovla.dataset.layout
    meta/manifest.parquet               one row per source clip (provenance, hashes): the commit record
    meta/rejects.parquet                clips that could not be used, with the reason
    truth/episode_NNNNNN.gt.npz         ground truth of generated clips, at the episode's frames

An episode exists once its manifest row is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from egovla.dataset import LeRobotDataset, camera
from egovla.io.atomic import atomic_write_parquet
from egovla.io.tables import read_parquet
from egovla.synth.store import GroundTruth, read_truth, write_truth

IMAGE_KEY = "observation.images.ego"
ROBOT_TYPE = "human_ego"
MANIFEST_COLUMNS = {
    "clip_id": "string",
    "episode_index": "int64",
    "source_uri": "string",
    "sha256": "string",
    "codec": "string",
    "fps": "float64",
    "width": "int64",
    "height": "int64",
    "frames": "int64",
    "duration_s": "float64",
    "episode_frames": "int64",
    "source_tag": "string",
    "licence": "string",
    "task": "string",
    "ingested_at": "string",
}
REJECT_COLUMNS = {
    "source_uri": "string",
    "sha256": "string",
    "stage": "string",
    "reason": "string",
    "rejected_at": "string",
}


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CorpusMismatch(ValueError):
    pass


class Corpus:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.dataset = LeRobotDataset(self.root)

    # ----- creation and metadata -------------------------------------------------------------
    @classmethod
    def open_or_create(cls, root: str | Path, fps: int, size: int) -> Corpus:
        corpus = cls(root)
        if corpus.info_path.exists():
            info = corpus.info
            if info["fps"] != fps or info["features"][IMAGE_KEY]["shape"][:2] != [size, size]:
                raise CorpusMismatch(
                    f"{corpus.info_path}: corpus holds {info['fps']} fps "
                    f"{info['features'][IMAGE_KEY]['shape'][0]}px episodes; asked for {fps} fps {size}px"
                )
            return corpus
        LeRobotDataset.create(root, fps, {IMAGE_KEY: camera(size, size, fps)}, ROBOT_TYPE)
        atomic_write_parquet(corpus.manifest_path, _empty(MANIFEST_COLUMNS))
        atomic_write_parquet(corpus.rejects_path, _empty(REJECT_COLUMNS))
        return corpus

    @property
    def info_path(self) -> Path:
        return self.dataset.info_path

    @property
    def manifest_path(self) -> Path:
        return self.root / "meta" / "manifest.parquet"

    @property
    def rejects_path(self) -> Path:
        return self.root / "meta" / "rejects.parquet"

    @property
    def info(self) -> dict:
        if not self.info_path.exists():
            raise FileNotFoundError(f"{self.info_path}: not a corpus (run `egovla ingest` first)")
        return self.dataset.info

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def size(self) -> int:
        return int(self.info["features"][IMAGE_KEY]["shape"][0])

    def manifest(self) -> pd.DataFrame:
        if not self.manifest_path.exists():
            raise FileNotFoundError(f"{self.manifest_path}: not a corpus (run `egovla ingest` first)")
        return read_parquet(self.manifest_path)

    def rejects(self) -> pd.DataFrame:
        return read_parquet(self.rejects_path)

    def episodes(self) -> pd.DataFrame:
        return self.dataset.episodes()

    def tasks(self) -> pd.DataFrame:
        return self.dataset.tasks()

    def episode_indices(self) -> list[int]:
        return [int(i) for i in self.manifest()["episode_index"]]

    def version(self) -> str:
        """Content version of the corpus: changes exactly when the set of clips changes."""
        ids = sorted(self.manifest()["clip_id"].astype(str))
        return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time (a scheduled run overlapping a manual one must not interleave)."""
        with open(self.root / "meta" / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ----- episodes ----------------------------------------------------------------------------
    def video_path(self, episode_index: int) -> Path:
        return self.dataset.video_path(episode_index, IMAGE_KEY)

    def data_path(self, episode_index: int) -> Path:
        return self.dataset.data_path(episode_index)

    def read_frames(self, episode_index: int) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB frames of one episode."""
        return self.dataset.read_video(episode_index, IMAGE_KEY)

    def truth_path(self, episode_index: int) -> Path:
        return self.root / "truth" / f"episode_{episode_index:06d}.gt.npz"

    def truth(self, episode_index: int) -> GroundTruth | None:
        """Ground truth of a generated clip at the episode's frames; None for real footage."""
        path = self.truth_path(episode_index)
        return read_truth(path) if path.exists() else None

    def append_episode(self, frames: np.ndarray, row: dict, truth: GroundTruth | None = None) -> int:
        """Writes one episode's video, data and truth, then commits it in the manifest. Returns its index."""
        missing = set(MANIFEST_COLUMNS) - {"episode_index", "episode_frames", "ingested_at"} - set(row)
        if missing:
            raise ValueError(f"{self.manifest_path}: manifest row lacks {sorted(missing)}")
        manifest = self.manifest()
        self.dataset.truncate(len(manifest))  # rows of an earlier run that died before its manifest commit
        if truth is not None:
            write_truth(self.truth_path(len(manifest)), truth)
        else:
            self.truth_path(len(manifest)).unlink(missing_ok=True)
        episode_index = self.dataset.add_episode(row.get("task") or "", videos={IMAGE_KEY: frames})
        new_row = {**row, "episode_index": episode_index, "episode_frames": len(frames), "ingested_at": now_iso()}
        new = pd.DataFrame([new_row]).astype({k: v for k, v in MANIFEST_COLUMNS.items() if k in new_row})
        atomic_write_parquet(self.manifest_path, pd.concat([manifest, new[list(MANIFEST_COLUMNS)]], ignore_index=True))
        return episode_index

    def add_reject(self, source_uri: str, reason: str, stage: str, sha256: str | None = None) -> bool:
        """Records a reject once; the same clip failing the same way again adds nothing."""
        rejects = self.rejects()
        same = (rejects["source_uri"] == source_uri) & (rejects["reason"] == reason) & (rejects["stage"] == stage)
        if sha256 is not None:
            same &= rejects["sha256"] == sha256
        if same.any():
            return False
        row = pd.DataFrame(
            [{"source_uri": source_uri, "sha256": sha256, "stage": stage, "reason": reason, "rejected_at": now_iso()}]
        ).astype(REJECT_COLUMNS)
        atomic_write_parquet(self.rejects_path, pd.concat([rejects, row], ignore_index=True))
        return True


def snapshot(corpus_dir: str | Path, dst: str | Path) -> Path:
    """A copy of the corpus at ``dst``, hard-linked where the filesystem allows: episodes are written
    once and tables are replaced atomically (a new inode), so later ingests never change the copy."""
    source, target = Path(corpus_dir), Path(dst)
    with Corpus(source).lock():

        def link(src: str, dest: str) -> None:
            try:
                os.link(src, dest)
            except OSError:
                shutil.copy2(src, dest)

        shutil.copytree(source, target, copy_function=link, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".lock"))
    return target

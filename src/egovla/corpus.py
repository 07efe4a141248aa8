"""A footage corpus on disk: LeRobotDataset v3 layout plus a manifest and a rejects table.

Layout (one episode per data/video file, which v3's relational metadata allows)::

    meta/info.json                      codebase_version v3.0, fps, features, path templates
    meta/tasks.parquet                  task text -> task_index
    meta/episodes/chunk-000/file-000.parquet   per-episode rows (length, file pointers)
    meta/manifest.parquet               one row per source clip (provenance, hashes)
    meta/rejects.parquet                clips that could not be used, with the reason
    data/chunk-NNN/file-NNN.parquet     per-frame rows
    videos/observation.images.ego/chunk-NNN/file-NNN.mp4

The manifest is the commit record: an episode exists once its manifest row is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from egovla.io.atomic import atomic_write_json, atomic_write_parquet
from egovla.io.tables import read_parquet
from egovla.video import decode_rgb, encode_mp4

CODEBASE_VERSION = "v3.0"
IMAGE_KEY = "observation.images.ego"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = Path("meta/episodes/chunk-000/file-000.parquet")

MANIFEST_COLUMNS = {
    "clip_id": "string", "episode_index": "int64", "source_uri": "string", "sha256": "string",
    "codec": "string", "fps": "float64", "width": "int64", "height": "int64", "frames": "int64",
    "duration_s": "float64", "episode_frames": "int64", "source_tag": "string", "licence": "string",
    "task": "string", "ingested_at": "string",
}
REJECT_COLUMNS = {"source_uri": "string", "sha256": "string", "stage": "string", "reason": "string",
                  "rejected_at": "string"}


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CorpusMismatch(ValueError):
    pass


class Corpus:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ----- creation and metadata -------------------------------------------------------------
    @classmethod
    def open_or_create(cls, root: str | Path, fps: int, size: int) -> Corpus:
        corpus = cls(root)
        if corpus.info_path.exists():
            info = corpus.info
            if info["fps"] != fps or info["features"][IMAGE_KEY]["shape"][:2] != [size, size]:
                raise CorpusMismatch(
                    f"{corpus.info_path}: corpus holds {info['fps']} fps "
                    f"{info['features'][IMAGE_KEY]['shape'][0]}px episodes; asked for {fps} fps {size}px")
            return corpus
        (corpus.root / "meta").mkdir(parents=True, exist_ok=True)
        corpus._write_info(fps, size, episodes=0, frames=0, tasks=0)
        atomic_write_parquet(corpus.manifest_path, _empty(MANIFEST_COLUMNS))
        atomic_write_parquet(corpus.rejects_path, _empty(REJECT_COLUMNS))
        return corpus

    @property
    def info_path(self) -> Path:
        return self.root / "meta" / "info.json"

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
        return json.loads(self.info_path.read_text())

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def size(self) -> int:
        return int(self.info["features"][IMAGE_KEY]["shape"][0])

    def manifest(self) -> pd.DataFrame:
        return read_parquet(self.manifest_path)

    def rejects(self) -> pd.DataFrame:
        return read_parquet(self.rejects_path)

    def episodes(self) -> pd.DataFrame:
        path = self.root / EPISODES_PATH
        return read_parquet(path) if path.exists() else pd.DataFrame()

    def tasks(self) -> pd.DataFrame:
        path = self.root / "meta" / "tasks.parquet"
        return read_parquet(path) if path.exists() else pd.DataFrame({"task_index": []})

    def quarantined_clip_ids(self) -> set[str]:
        """Clips ingested but later failed validation; downstream stages skip them."""
        rejects = self.rejects()
        return set(rejects.loc[rejects["stage"] == "validate", "sha256"].str[:16])

    def usable_episodes(self) -> list[int]:
        manifest = self.manifest()
        bad = self.quarantined_clip_ids()
        return [int(i) for i, cid in zip(manifest["episode_index"], manifest["clip_id"]) if cid not in bad]

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
        chunk, file = divmod(episode_index, CHUNKS_SIZE)
        return self.root / VIDEO_PATH.format(video_key=IMAGE_KEY, chunk_index=chunk, file_index=file)

    def data_path(self, episode_index: int) -> Path:
        chunk, file = divmod(episode_index, CHUNKS_SIZE)
        return self.root / DATA_PATH.format(chunk_index=chunk, file_index=file)

    def read_frames(self, episode_index: int) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB frames of one episode."""
        return decode_rgb(self.video_path(episode_index))

    def append_episode(self, frames: np.ndarray, row: dict) -> int:
        """Writes one episode's video and data, then commits it in the manifest. Returns its index."""
        missing = set(MANIFEST_COLUMNS) - {"episode_index", "episode_frames", "ingested_at"} - set(row)
        if missing:
            raise ValueError(f"{self.manifest_path}: manifest row lacks {sorted(missing)}")
        manifest = self.manifest()
        episode_index = int(manifest["episode_index"].max() + 1) if len(manifest) else 0
        first_index = int(manifest["episode_frames"].sum()) if len(manifest) else 0
        length = len(frames)
        encode_mp4(self.video_path(episode_index), frames, fps=self.fps)

        tasks = self.tasks()
        task = row.get("task") or ""
        known = dict(zip(tasks.get("task", pd.Series(dtype=str)), tasks["task_index"]))
        task_index = int(known.get(task, len(known)))
        if task not in known:
            tasks = pd.DataFrame({"task": list(known) + [task], "task_index": list(known.values()) + [task_index]})
            atomic_write_parquet(self.root / "meta" / "tasks.parquet", tasks)

        timestamps = np.arange(length, dtype=np.float32) / self.fps
        data = pd.DataFrame({
            "timestamp": timestamps, "frame_index": np.arange(length, dtype=np.int64),
            "episode_index": np.full(length, episode_index, dtype=np.int64),
            "index": np.arange(first_index, first_index + length, dtype=np.int64),
            "task_index": np.full(length, task_index, dtype=np.int64),
        })
        atomic_write_parquet(self.data_path(episode_index), data)

        chunk, file = divmod(episode_index, CHUNKS_SIZE)
        episode = {
            "episode_index": episode_index, "tasks": [task], "length": length,
            "data/chunk_index": chunk, "data/file_index": file,
            "dataset_from_index": first_index, "dataset_to_index": first_index + length,
            f"videos/{IMAGE_KEY}/chunk_index": chunk, f"videos/{IMAGE_KEY}/file_index": file,
            f"videos/{IMAGE_KEY}/from_timestamp": 0.0,
            f"videos/{IMAGE_KEY}/to_timestamp": float(length / self.fps),
            "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
        }
        episodes = self.episodes()
        if len(episodes):  # drop rows of an earlier run that died before its manifest commit
            episodes = episodes[episodes["episode_index"].isin(manifest["episode_index"])]
        atomic_write_parquet(self.root / EPISODES_PATH,
                             pd.concat([episodes, pd.DataFrame([episode])], ignore_index=True))

        new_row = {**row, "episode_index": episode_index, "episode_frames": length, "ingested_at": now_iso()}
        new = pd.DataFrame([new_row]).astype({k: v for k, v in MANIFEST_COLUMNS.items() if k in new_row})
        manifest = pd.concat([manifest, new[list(MANIFEST_COLUMNS)]], ignore_index=True)
        atomic_write_parquet(self.manifest_path, manifest)
        self._write_info(self.fps, self.size, episodes=len(manifest),
                         frames=int(manifest["episode_frames"].sum()), tasks=len(self.tasks()))
        return episode_index

    def add_reject(self, source_uri: str, reason: str, stage: str, sha256: str | None = None) -> bool:
        """Records a reject once; the same clip failing the same way again adds nothing."""
        rejects = self.rejects()
        same = (rejects["source_uri"] == source_uri) & (rejects["reason"] == reason) & (rejects["stage"] == stage)
        if sha256 is not None:
            same &= rejects["sha256"] == sha256
        if same.any():
            return False
        row = pd.DataFrame([{"source_uri": source_uri, "sha256": sha256, "stage": stage, "reason": reason,
                             "rejected_at": now_iso()}]).astype(REJECT_COLUMNS)
        atomic_write_parquet(self.rejects_path, pd.concat([rejects, row], ignore_index=True))
        return True

    def _write_info(self, fps: int, size: int, episodes: int, frames: int, tasks: int) -> None:
        scalar = {"shape": [1], "names": None}
        info = {
            "codebase_version": CODEBASE_VERSION, "robot_type": "human_ego",
            "total_episodes": episodes, "total_frames": frames, "total_tasks": tasks,
            "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500,
            "fps": fps, "splits": {"train": f"0:{episodes}"},
            "data_path": DATA_PATH, "video_path": VIDEO_PATH,
            "features": {
                IMAGE_KEY: {"dtype": "video", "shape": [size, size, 3], "names": ["height", "width", "channels"],
                            "info": {"video.height": size, "video.width": size, "video.codec": "h264",
                                     "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                                     "video.fps": fps, "video.channels": 3, "has_audio": False}},
                "timestamp": {"dtype": "float32", **scalar},
                "frame_index": {"dtype": "int64", **scalar},
                "episode_index": {"dtype": "int64", **scalar},
                "index": {"dtype": "int64", **scalar},
                "task_index": {"dtype": "int64", **scalar},
            },
        }
        atomic_write_json(self.info_path, info)

"""Read and append LeRobotDataset v3 episodes: any cameras, ``observation.state``, ``action``, tasks.

The episodes table is the commit record: an episode exists once its row is written (video and data
files first, then the row, then info.json and stats.json, all atomically), so a run that dies midway
leaves the dataset as it was, and the next append overwrites the orphaned files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from egovla.dataset import layout, stats
from egovla.io.atomic import atomic_write_json, atomic_write_parquet
from egovla.io.tables import read_parquet
from egovla.io.video import decode_rgb, encode_mp4


class DatasetError(ValueError):
    """A dataset that does not hold what was asked of it; the message names the file and the key."""


class LeRobotDataset:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ----- creation -----------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, fps: int, features: dict[str, dict], robot_type: str) -> LeRobotDataset:
        """A new empty dataset, or the existing one at ``root`` if it has the same fps and features."""
        dataset = cls(root)
        if dataset.info_path.exists():
            info = dataset.info
            mine = {k: v for k, v in info["features"].items() if k not in layout.DEFAULT_FEATURES}
            if info["fps"] != fps or mine != features:
                raise DatasetError(
                    f"{dataset.info_path}: holds {info['fps']} fps with features {sorted(mine)}; "
                    f"asked for {fps} fps with {sorted(features)}"
                )
            return dataset
        for key, feature in features.items():
            if feature.get("dtype") not in {"video", "float32", "float64", "int64", "bool"}:
                raise DatasetError(f"feature {key!r}: unsupported dtype {feature.get('dtype')!r}")
        atomic_write_json(dataset.info_path, layout.info_document(fps, features, robot_type, 0, 0, 0))
        return dataset

    # ----- metadata ------------------------------------------------------------------------------
    @property
    def info_path(self) -> Path:
        return self.root / layout.INFO_PATH

    @property
    def info(self) -> dict[str, Any]:
        if not self.info_path.exists():
            raise FileNotFoundError(f"{self.info_path}: not a LeRobotDataset (no meta/info.json)")
        return json.loads(self.info_path.read_text())

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def features(self) -> dict[str, dict]:
        return self.info["features"]

    @property
    def video_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f["dtype"] == "video"]

    def require(self, key: str, dtype: str | None = None) -> dict:
        """The feature ``key``, or an error naming the file, the key and the features there are."""
        feature = self.features.get(key)
        if feature is None or (dtype == "video") != (feature["dtype"] == "video"):
            kinds = "camera" if dtype == "video" else "feature"
            raise DatasetError(f"{self.info_path}: no {kinds} {key!r}; features: {sorted(self.features)}")
        return feature

    def episodes(self) -> pd.DataFrame:
        path = self.root / layout.EPISODES_PATH
        return read_parquet(path) if path.exists() else pd.DataFrame({"episode_index": pd.Series(dtype="int64")})

    def tasks(self) -> pd.DataFrame:
        """Index: the task strings; one column, ``task_index`` (LeRobot's layout)."""
        path = self.root / layout.TASKS_PATH
        if path.exists():
            return read_parquet(path)
        return pd.DataFrame({"task_index": pd.Series(dtype="int64")}, index=pd.Index([], dtype=object, name="task"))

    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        path = self.root / layout.STATS_PATH
        doc = json.loads(path.read_text()) if path.exists() else {}
        return {k: {n: np.asarray(v) for n, v in s.items()} for k, s in doc.items()}

    # ----- episodes ------------------------------------------------------------------------------
    def video_path(self, episode_index: int, key: str) -> Path:
        chunk, file = layout.file_indices(episode_index)
        return self.root / layout.VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)

    def data_path(self, episode_index: int) -> Path:
        chunk, file = layout.file_indices(episode_index)
        return self.root / layout.DATA_PATH.format(chunk_index=chunk, file_index=file)

    def read_video(self, episode_index: int, key: str) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB frames of one camera."""
        self.require(key, "video")
        return decode_rgb(self.video_path(episode_index, key))

    def read_data(self, episode_index: int) -> pd.DataFrame:
        return read_parquet(self.data_path(episode_index))

    def read_feature(self, episode_index: int, key: str) -> np.ndarray:
        """(T, dim) array of a numeric feature of one episode."""
        return self.read_features(episode_index, (key,))[key]

    def read_features(self, episode_index: int, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Several numeric features of one episode from one read of its data file."""
        features = {key: self.require(key) for key in keys}
        data = self.read_data(episode_index)
        return {
            key: np.stack(data[key].to_numpy()).astype(f["dtype"]).reshape(len(data), -1) for key, f in features.items()
        }

    def task_of(self, episode_index: int) -> str:
        return self.episode_tasks()[episode_index]

    def episode_tasks(self) -> dict[int, str]:
        """Each episode's (first) task string, from one read of the episodes table."""
        table = self.episodes()
        return {int(e): str(t[0]) if len(t) else "" for e, t in zip(table["episode_index"], table["tasks"])}

    def truncate(self, episodes: int) -> None:
        """Forgets episodes from ``episodes`` on (rows of a run that died before its caller committed)."""
        table = self.episodes()
        if len(table) > episodes:
            kept = table[table["episode_index"] < episodes]
            atomic_write_parquet(self.root / layout.EPISODES_PATH, kept)
            self._write_meta(kept)

    def add_episode(
        self, task: str, videos: dict[str, np.ndarray] | None = None, values: dict[str, np.ndarray] | None = None
    ) -> int:
        """Appends one episode: ``videos`` per camera key (T, H, W, 3) uint8, ``values`` per numeric key
        (T, dim). Every feature of the dataset must be given, with T frames. Returns the episode index."""
        videos, values = dict(videos or {}), dict(values or {})
        own = {k: f for k, f in self.features.items() if k not in layout.DEFAULT_FEATURES}
        given = set(videos) | set(values)
        if given != set(own):
            raise DatasetError(f"{self.info_path}: episode must give exactly {sorted(own)}; got {sorted(given)}")
        lengths = {k: len(v) for k, v in (videos | values).items()}
        length = next(iter(lengths.values()), 0)
        if length == 0 or len(set(lengths.values())) > 1:
            raise DatasetError(f"{self.info_path}: features differ in length or are empty: {lengths}")
        for key, frames in videos.items():
            if list(frames.shape[1:]) != own[key]["shape"]:
                raise DatasetError(f"{key}: frames {frames.shape[1:]} do not match feature shape {own[key]['shape']}")
        values = {k: np.asarray(v, dtype=own[k]["dtype"]).reshape(length, -1) for k, v in values.items()}
        for key, array in values.items():
            if array.shape[1] != own[key]["shape"][0]:
                raise DatasetError(f"{key}: {array.shape[1]} values per frame, feature shape is {own[key]['shape']}")
        table = self.episodes()
        episode_index = len(table)
        first = int(table["dataset_to_index"].max()) if len(table) else 0
        task_index = self._task_index(task)
        fps = self.fps

        for key, frames in videos.items():
            video = own[key].get("info", {})
            pix_fmt, crf = video.get("video.pix_fmt", "yuv420p"), int(video.get("video.crf", layout.DEFAULT_CRF))
            encode_mp4(self.video_path(episode_index, key), frames, fps=fps, crf=crf, pix_fmt=pix_fmt)
        columns: dict[str, Any] = {}
        for key, array in values.items():
            columns[key] = list(array)
        columns |= {
            "timestamp": np.arange(length, dtype=np.float32) / fps,
            "frame_index": np.arange(length, dtype=np.int64),
            "episode_index": np.full(length, episode_index, dtype=np.int64),
            "index": np.arange(first, first + length, dtype=np.int64),
            "task_index": np.full(length, task_index, dtype=np.int64),
        }
        atomic_write_parquet(self.data_path(episode_index), pd.DataFrame(columns))

        chunk, file = layout.file_indices(episode_index)
        row: dict[str, Any] = {
            "episode_index": episode_index,
            "tasks": [task],
            "length": length,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": first,
            "dataset_to_index": first + length,
        }
        for key in videos:
            row |= dict(zip(layout.video_columns(key), (chunk, file, 0.0, float(length / fps))))
        row |= {"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}
        episode_stats = {key: stats.image_stats(frames) for key, frames in videos.items()}
        episode_stats |= {key: stats.feature_stats(np.stack(columns[key])) for key in columns}
        for key, feature_stats in episode_stats.items():
            row |= {f"stats/{key}/{name}": np.asarray(v).ravel().tolist() for name, v in feature_stats.items()}
        new = pd.DataFrame([row])
        # concatenating onto the empty table would turn every integer column into float (NaN-filled),
        # and LeRobot formats file indices with {:03d}
        grown = pd.concat([table, new], ignore_index=True) if len(table) else new
        atomic_write_parquet(self.root / layout.EPISODES_PATH, grown)
        self._write_meta(grown, added=episode_stats if len(table) else None)
        return episode_index

    def episode_stats(self, row: pd.Series) -> dict[str, dict[str, np.ndarray]]:
        """One episodes-table row's ``stats/<feature>/<stat>`` columns, shaped as the feature's stats."""
        out: dict[str, dict[str, np.ndarray]] = {}
        features = self.features
        for column, value in row.items():
            if isinstance(column, str) and column.startswith("stats/") and value is not None:
                key, name = column[len("stats/") :].rsplit("/", 1)
                array = np.asarray(value, dtype=np.float64)
                if features[key]["dtype"] == "video" and name != "count":
                    array = array.reshape(-1, 1, 1)
                out.setdefault(key, {})[name] = array
        return out

    def _task_index(self, task: str) -> int:
        tasks = self.tasks()
        if task in tasks.index:
            return int(tasks.loc[task, "task_index"])
        index = len(tasks)
        new = pd.DataFrame(
            {"task_index": [*tasks["task_index"].astype("int64"), index]},
            index=pd.Index([*tasks.index, task], name="task"),
        )
        atomic_write_parquet(self.root / layout.TASKS_PATH, new, index=True)  # LeRobot reads the index
        return index

    def _write_meta(self, table: pd.DataFrame, added: dict[str, dict[str, np.ndarray]] | None = None) -> None:
        """info.json and stats.json for the episodes ``table`` just written. ``added``: the stats of the one
        episode just appended, folded into the dataset's stats (pooled moments are exact, so an append
        stays O(1)); without it every episode's stats are aggregated again."""
        per_feature: dict[str, list[dict[str, np.ndarray]]] = {}
        if added is not None:
            current = self.stats()
            per_feature = {key: [current[key], value] if key in current else [value] for key, value in added.items()}
        else:
            for _, row in table.iterrows():
                for key, feature_stats in self.episode_stats(row).items():
                    per_feature.setdefault(key, []).append(feature_stats)
        info = self.info
        own = {k: f for k, f in info["features"].items() if k not in layout.DEFAULT_FEATURES}
        frames = int(table["length"].sum()) if len(table) else 0
        atomic_write_json(
            self.info_path,
            layout.info_document(info["fps"], own, info["robot_type"], len(table), frames, len(self.tasks())),
        )
        atomic_write_json(
            self.root / layout.STATS_PATH, stats.to_json({k: stats.aggregate(v) for k, v in per_feature.items()})
        )

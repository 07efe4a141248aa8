"""LeRobotDataset v3 layout: paths, field names and the ``meta/info.json`` document.

    meta/info.json                              codebase_version "v3.0", fps, features, path templates
    meta/stats.json                             per-feature stats (see stats.py)
    meta/tasks.parquet                          index: the task string; one column, task_index
    meta/episodes/chunk-000/file-000.parquet    one row per episode: length, tasks, file pointers and
                                                offsets, stats/<feature>/<stat>
    data/chunk-NNN/file-NNN.parquet             per-frame rows (state, action, indices)
    videos/<camera key>/chunk-NNN/file-NNN.mp4  one stream per camera

Here each episode gets its own data and video file (v3's relational metadata allows any packing), so
an episode is appended without rewriting the ones before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 500
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = Path("meta/episodes/chunk-000/file-000.parquet")
TASKS_PATH = Path("meta/tasks.parquet")
INFO_PATH = Path("meta/info.json")
STATS_PATH = Path("meta/stats.json")

_SCALAR = {"shape": [1], "names": None}
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", **_SCALAR},
    "frame_index": {"dtype": "int64", **_SCALAR},
    "episode_index": {"dtype": "int64", **_SCALAR},
    "index": {"dtype": "int64", **_SCALAR},
    "task_index": {"dtype": "int64", **_SCALAR},
}
# the keys of every info.json feature entry, and of every episodes-table row, that LeRobot's reader needs
REQUIRED_INFO_KEYS = (
    "codebase_version",
    "robot_type",
    "total_episodes",
    "total_frames",
    "total_tasks",
    "chunks_size",
    "data_files_size_in_mb",
    "video_files_size_in_mb",
    "fps",
    "splits",
    "data_path",
    "video_path",
    "features",
)
REQUIRED_EPISODE_COLUMNS = (
    "episode_index",
    "tasks",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
    "meta/episodes/chunk_index",
    "meta/episodes/file_index",
)


DEFAULT_CRF = 18


def camera(
    height: int, width: int, fps: int, codec: str = "h264", pix_fmt: str = "yuv420p", crf: int = DEFAULT_CRF
) -> dict[str, Any]:
    """A camera feature stored as video. ``pix_fmt`` yuv444p with ``crf`` 0 keeps frames near-lossless
    (colour at full resolution): for simulated demos whose frames a frozen encoder must see as a live
    camera delivers them. ``video.crf`` is egovla's own key; LeRobot ignores it."""
    return {
        "dtype": "video",
        "shape": [height, width, 3],
        "names": ["height", "width", "channels"],
        "info": {
            "video.height": height,
            "video.width": width,
            "video.codec": codec,
            "video.pix_fmt": pix_fmt,
            "video.crf": crf,
            "video.is_depth_map": False,
            "video.fps": fps,
            "video.channels": 3,
            "has_audio": False,
        },
    }


def vector(names: list[str], dtype: str = "float32") -> dict[str, Any]:
    """A numeric per-frame feature such as ``observation.state`` or ``action``."""
    return {"dtype": dtype, "shape": [len(names)], "names": list(names)}


def file_indices(episode_index: int) -> tuple[int, int]:
    return divmod(episode_index, CHUNKS_SIZE)


def video_columns(key: str) -> tuple[str, ...]:
    return (
        f"videos/{key}/chunk_index",
        f"videos/{key}/file_index",
        f"videos/{key}/from_timestamp",
        f"videos/{key}/to_timestamp",
    )


def info_document(
    fps: int, features: dict[str, dict], robot_type: str, episodes: int, frames: int, tasks: int
) -> dict[str, Any]:
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": episodes,
        "total_frames": frames,
        "total_tasks": tasks,
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
        "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
        "fps": fps,
        "splits": {"train": f"0:{episodes}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": {**features, **DEFAULT_FEATURES},
    }

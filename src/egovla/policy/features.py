"""A robot dataset read for adaptation, with its frozen features computed once per frame and cached.

Perception tokens and VLM intent states depend only on the frame, the task and the frozen models, so
they are computed once (batched) and stored under a content key; every epoch, every ablation
sharing the same encoder, and every rerun reads the cache instead of re-running the encoders.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from egovla.dataset import LeRobotDataset
from egovla.dataset import layout as lerobot_layout
from egovla.io.atomic import atomic_path

log = logging.getLogger(__name__)


@dataclass
class RobotFrames:
    """Every frame of a robot dataset, in episode order."""

    states: np.ndarray  # float32 (N, S)
    actions: np.ndarray  # float32 (N, A)
    task_index: np.ndarray  # int64 (N,): into ``tasks``
    episode_end: np.ndarray  # int64 (N,): global index of the episode's last frame
    tasks: list[str]
    episodes: list[int]

    def __len__(self) -> int:
        return len(self.states)


def open_robot_dataset(root: str | Path, camera_key: str, state_key: str, action_key: str) -> LeRobotDataset:
    """A LeRobotDataset v3 with the camera, state and action the policy needs, or an error naming them."""
    dataset = LeRobotDataset(root)
    dataset.require(camera_key, "video")
    dataset.require(state_key)
    dataset.require(action_key)
    if not len(dataset.episodes()):
        raise ValueError(f"{dataset.root / lerobot_layout.EPISODES_PATH}: the dataset has no episodes")
    return dataset


def read_frames(dataset: LeRobotDataset, state_key: str, action_key: str) -> RobotFrames:
    states, actions, tasks_of, ends, episodes = [], [], [], [], []
    tasks: list[str] = []
    total = 0
    for e, task in dataset.episode_tasks().items():
        values = dataset.read_features(e, (state_key, action_key))
        state, action = values[state_key], values[action_key]
        if task not in tasks:
            tasks.append(task)
        states.append(state)
        actions.append(action)
        tasks_of.append(np.full(len(state), tasks.index(task)))
        total += len(state)
        ends.append(np.full(len(state), total - 1))
        episodes.append(e)
    return RobotFrames(
        np.concatenate(states).astype(np.float32),
        np.concatenate(actions).astype(np.float32),
        np.concatenate(tasks_of).astype(np.int64),
        np.concatenate(ends).astype(np.int64),
        tasks,
        episodes,
    )


def dataset_key(dataset: LeRobotDataset) -> str:
    """Changes when the dataset's episodes change (their table holds lengths, files and stats)."""
    digest = hashlib.sha256((dataset.root / lerobot_layout.INFO_PATH).read_bytes())
    digest.update((dataset.root / lerobot_layout.EPISODES_PATH).read_bytes())
    return digest.hexdigest()[:16]


def file_key(*parts: str | Path | dict) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            digest.update(part.read_bytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


Compute = Callable[[np.ndarray, str], torch.Tensor]  # (episode frames, task) -> (T, ...) features


def cached_features(
    cache_dir: Path, dataset: LeRobotDataset, camera_key: str, wanted: dict[str, tuple[str, Compute]]
) -> dict[str, torch.Tensor]:
    """``wanted``: name -> (content key, compute). Each is read from ``<cache>/<name>-<key>.safetensors``
    or computed over every episode (each video decoded once for all of them) and written there."""
    found: dict[str, torch.Tensor] = {}
    missing = {}
    for name, (key, compute) in wanted.items():
        path = cache_dir / f"{name}-{key}.safetensors"
        if path.exists():
            log.info("%s: cached features read", path)
            found[name] = load_file(path)["features"]
        else:
            missing[name] = (path, compute)
    if missing:
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in missing}
        for e, task in dataset.episode_tasks().items():
            frames = dataset.read_video(e, camera_key)
            for name, (_, compute) in missing.items():
                parts[name].append(compute(frames, task))
        cache_dir.mkdir(parents=True, exist_ok=True)
        for name, (path, _) in missing.items():
            found[name] = torch.cat(parts[name]).contiguous()
            with atomic_path(path) as tmp:
                save_file({"features": found[name]}, str(tmp))
    return found

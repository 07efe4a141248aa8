"""One evaluation episode, in a worker process that holds its own copy of the policy."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from egovla.policy.config import ExecutionConfig
from egovla.policy.execution import ChunkExecutor
from egovla.policy.policy import TASK_KEY, Policy, policy_folder
from egovla.sim import metaworld as mw

_policy: Any = None  # a Policy, or a PolicyClient with the same act/reset


@dataclass
class Episode:
    task: str
    seed: int
    sum_reward: float
    max_reward: float
    success: bool
    steps: int
    policy_s: float  # time spent choosing actions
    env_s: float  # time spent stepping and rendering
    frames: list[np.ndarray] = field(default_factory=list)


def init_worker(policy_dir: str | None, execution: dict | None, server: str | None = None) -> None:
    """Process initializer: one thread per worker (the workers share the cores), the policy loaded once
    (or, with ``server``, a client of the policy served there, executing chunks as the policy would)."""
    global _policy
    torch.set_num_threads(1)
    if server is not None:
        from egovla.serving.client import PolicyClient

        if execution is None:
            meta = json.loads((policy_folder(policy_dir) / "config.json").read_text())
            execution = meta["policy"]["execution"]
        _policy = PolicyClient(server, execution=ExecutionConfig(**execution))
    elif policy_dir is not None:
        _policy = Policy.from_pretrained(policy_dir)
        if execution is not None:
            _policy.executor = ChunkExecutor(ExecutionConfig(**execution), _policy.cfg.chunk)


def run_episode(task: str, seed: int, size: int, camera: str, max_steps: int, keep_frames: bool) -> Episode:
    env = mw.SimEnv(task, seed, size, camera, max_steps)
    scripted = mw.expert(task) if _policy is None else None
    instruction = mw.instruction(task)
    try:
        obs = env.reset()
        if _policy is not None:
            _policy.reset()
        rewards, success, frames = [], False, []
        policy_s = env_s = 0.0
        while True:
            if keep_frames:
                frames.append(obs[env.image_key])
            started = time.perf_counter()
            if scripted is not None:
                action = scripted.get_action(env.full_state())
            else:
                action = _policy.act({**obs, TASK_KEY: instruction})
            between = time.perf_counter()
            step = env.step(action)
            env_s += time.perf_counter() - between
            policy_s += between - started
            rewards.append(step.reward)
            obs, success = step.observation, success or step.success
            if success or step.truncated:  # LeRobot's protocol: an episode ends at its first success
                break
    finally:
        env.close()
    return Episode(
        task, seed, float(np.sum(rewards)), float(np.max(rewards)), success, len(rewards), policy_s, env_s, frames
    )


def save_video(episode: Episode, folder: Path, fps: int) -> Path:
    from egovla.io.video import encode_mp4

    path = folder / f"{episode.task}_seed{episode.seed}_{'success' if episode.success else 'failure'}.mp4"
    encode_mp4(path, np.stack(episode.frames), fps=fps)
    return path

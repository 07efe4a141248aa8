"""Scripted-expert rollouts in Meta-World v3, rendered on the CPU (EGL).

Each Meta-World task ships a scripted expert, so robot video with its true actions is generated,
not downloaded. Rendered images come out upside down; they are flipped here.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")  # must precede the first mujoco import


@dataclass
class Rollout:
    task: str
    frames: np.ndarray  # (T, H, W, 3) uint8, upright
    actions: np.ndarray  # (T, 4): end-effector dx, dy, dz and gripper, clipped to [-1, 1]
    success: bool


@functools.lru_cache(maxsize=16)  # rendering dominates; the model and its ablation share rollouts
def scripted_rollout(task: str, seed: int, steps: int = 60, size: int = 128, camera: str = "corner") -> Rollout:
    import gymnasium as gym
    import metaworld  # noqa: F401 - registers the Meta-World environments
    from metaworld.policies import ENV_POLICY_MAP

    if task not in ENV_POLICY_MAP:
        raise ValueError(f"unknown Meta-World task {task!r}")
    env = gym.make(
        "Meta-World/MT1", env_name=task, render_mode="rgb_array", camera_name=camera, width=size, height=size, seed=seed
    )
    try:
        obs, _ = env.reset(seed=seed)
        policy = ENV_POLICY_MAP[task]()
        frames, actions, success = [], [], False
        for _ in range(steps):
            frames.append(env.render()[::-1].copy())
            action = np.clip(policy.get_action(obs), -1, 1)
            obs, _, terminated, truncated, info = env.step(action)
            actions.append(action)
            success = success or bool(info.get("success", 0))
            if terminated or truncated:
                break
    finally:
        env.close()
    return Rollout(task, np.stack(frames), np.asarray(actions, np.float32), success)

"""Closed-loop Meta-World evaluation config (`tiny`: 2 tasks x 2 episodes; `mt10`: the benchmark's)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from egovla.config import StageConfig
from egovla.policy.config import ExecutionConfig
from egovla.sim.metaworld import MAX_STEPS, MT10, task_ids


class EvalConfig(StageConfig):
    SECTION = "eval"
    PRESETS = {"tiny": {}, "mt10": {"tasks": MT10, "episodes": 20}}

    tasks: Annotated[tuple[str, ...], AfterValidator(task_ids)] = ("reach-v3", "drawer-close-v3")
    episodes: int = 2  # per task
    # episode j of a task uses seed + j; the policy's demo seeds must not be among them
    seed: int = 100_000
    max_steps: int = MAX_STEPS
    camera: str = "corner2"
    workers: int = 2  # rollout processes, each with its own copy of the policy
    videos: int = 1  # the first n episodes of each task are saved as mp4
    execution: ExecutionConfig | None = None  # None: the policy's own chunk execution
    expert: bool = False  # run Meta-World's scripted expert instead (the ceiling)
    # grpc://host:port of a Triton server serving the policy: each step's chunk comes from it (the policy
    # folder still supplies the checks and the chunk execution, which runs on this, the robot's, side)
    server: str | None = None

"""Scripted-demonstration config and presets (`tiny`: two easy tasks, a few episodes, seconds)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from egovla.config import StageConfig
from egovla.sim.metaworld import MAX_STEPS, MT10, task_ids


class DemosConfig(StageConfig):
    SECTION = "demos"
    PRESETS = {"tiny": {}, "mt10": {"tasks": MT10, "episodes": 50}}

    tasks: Annotated[tuple[str, ...], AfterValidator(task_ids)] = ("reach-v3", "drawer-close-v3")
    episodes: int = 3  # successful episodes per task
    image_size: int = 128
    camera: str = "corner2"
    # Near-lossless video: the policy's frozen encoder sees raw frames at eval time, and yuv420p crf 18
    # moves its features further than one step of motion does (benchmarks/demo_video_codec.py)
    pix_fmt: str = "yuv444p"
    crf: int = 0
    # demo j of a task uses seed + j (failures move on to the next seed); eval seeds start elsewhere
    seed: int = 0
    attempts: int = 2  # at most attempts * episodes seeds tried per task
    max_steps: int = MAX_STEPS
    workers: int = 2  # rendering processes
    # A robot's own LeRobotDataset v3 (folder or s3:// prefix) to adapt on instead of scripted demos
    source: str | None = None
    s3_endpoint: str | None = None

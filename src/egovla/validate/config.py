"""Corpus validation config (great-expectations thresholds)."""

from __future__ import annotations

from egovla.config import StageConfig


class ValidateConfig(StageConfig):
    SECTION = "validate"

    min_fps: float = 1.0
    max_fps: float = 240.0
    min_side: int = 16
    max_side: int = 8192
    min_source_frames: int = 8
    min_episode_frames: int = 4

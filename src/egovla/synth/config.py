"""Generated-scene config and presets."""

from __future__ import annotations

from egovla.config import StageConfig
from egovla.synth.scene import KINDS


class SynthConfig(StageConfig):
    SECTION = "synth"

    clips: int = 10
    frames: int = 40
    size: int = 128
    fps: int = 10
    seed: int = 0
    kinds: tuple[str, ...] = KINDS

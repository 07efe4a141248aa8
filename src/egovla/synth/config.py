"""Generated-scene config and presets."""

from __future__ import annotations

from egovla.config import StageConfig
from egovla.synth.scene import ACTORS, KINDS


class SynthConfig(StageConfig):
    SECTION = "synth"
    PRESETS = {
        "tiny": {},
        # the LAM's `cpu` preset trains on these: enough scenes and actors that codes cannot memorise
        "cpu": {"clips": 300, "actors": ACTORS},
    }

    clips: int = 10
    frames: int = 40
    size: int = 128
    fps: int = 10
    seed: int = 0
    kinds: tuple[str, ...] = KINDS
    actors: tuple[str, ...] = ("hand",)  # clip i's actor cycles through these, offset from its kind

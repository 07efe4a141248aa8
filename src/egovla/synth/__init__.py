"""Generated egocentric scenes with ground truth (masks and true actor displacement)."""

from egovla.synth.config import SynthConfig
from egovla.synth.scene import ACTORS, KINDS, Scene, SceneSpec, render
from egovla.synth.stage import run
from egovla.synth.store import GroundTruth, read_truth, truth_path

__all__ = [
    "ACTORS",
    "KINDS",
    "GroundTruth",
    "Scene",
    "SceneSpec",
    "SynthConfig",
    "read_truth",
    "render",
    "run",
    "truth_path",
]

"""Generated egocentric scenes with ground truth (masks and true actor displacement)."""

from egovla.synth.scene import KINDS, Scene, SceneSpec, render
from egovla.synth.stage import GroundTruth, SynthConfig, read_ground_truth, run

__all__ = ["KINDS", "GroundTruth", "Scene", "SceneSpec", "SynthConfig", "read_ground_truth", "render", "run"]

"""Closed-loop evaluation in Meta-World, reported as `lerobot-eval` does."""

from egovla.eval.config import EvalConfig
from egovla.eval.stage import run

__all__ = ["EvalConfig", "run"]

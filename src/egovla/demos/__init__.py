"""Robot demonstrations: Meta-World scripted-expert episodes as a LeRobotDataset v3."""

from egovla.demos.config import DemosConfig
from egovla.demos.stage import run
from egovla.demos.store import demo_seeds

__all__ = ["DemosConfig", "demo_seeds", "run"]

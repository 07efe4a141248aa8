"""Corpus validation: great-expectations suites, a verdict beside the corpus."""

from egovla.validate.config import ValidateConfig
from egovla.validate.stage import run
from egovla.validate.store import Verdict, default_verdict_dir, usable_episodes

__all__ = ["ValidateConfig", "Verdict", "default_verdict_dir", "run", "usable_episodes"]

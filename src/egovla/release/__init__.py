"""Releasing models: registry versions with lineage, the gate, promotion and rollback of ``champion``."""

from egovla.release.config import ReleaseConfig
from egovla.release.moves import promote, rollback, show
from egovla.release.stage import run_gate, run_register

__all__ = ["ReleaseConfig", "promote", "rollback", "run_gate", "run_register", "show"]

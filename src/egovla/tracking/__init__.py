"""MLflow runs for every stage, and the model registry. The only package that imports mlflow."""

from egovla.tracking.registry import CANDIDATE, CHAMPION, Registry, RegistryError, Version
from egovla.tracking.runs import DEFAULT_URI, EXPERIMENT, StageRun, enabled, git_commit, stage, tracking_uri

__all__ = [
    "CANDIDATE",
    "CHAMPION",
    "DEFAULT_URI",
    "EXPERIMENT",
    "Registry",
    "RegistryError",
    "StageRun",
    "Version",
    "enabled",
    "git_commit",
    "stage",
    "tracking_uri",
]

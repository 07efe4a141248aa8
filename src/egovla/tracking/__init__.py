"""MLflow runs for every stage (and, later, the model registry). The only package that imports mlflow."""

from egovla.tracking.runs import DEFAULT_URI, EXPERIMENT, StageRun, enabled, git_commit, stage, tracking_uri

__all__ = ["DEFAULT_URI", "EXPERIMENT", "StageRun", "enabled", "git_commit", "stage", "tracking_uri"]

"""The one place egovla talks to MLflow.

Default tracking URI: ``sqlite:///mlflow.db`` in the working folder; ``MLFLOW_TRACKING_URI`` (a
server, a database) takes precedence. ``EGOVLA_TRACKING=off`` disables logging (e.g. for a quick
local run); every stage still writes its config and metrics.json to disk either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DEFAULT_URI = "sqlite:///mlflow.db"
EXPERIMENT = os.environ.get("EGOVLA_EXPERIMENT", "egovla")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def enabled() -> bool:
    return os.environ.get("EGOVLA_TRACKING", "on").lower() not in {"off", "0", "false"}


class Run:
    """A thin handle on an active MLflow run; every method is a no-op when tracking is off."""

    def __init__(self, mlflow_module: Any | None):
        self._mlflow = mlflow_module
        self.run_id: str | None = None
        if mlflow_module is not None:
            self.run_id = mlflow_module.active_run().info.run_id

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if self._mlflow is None:
            return
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numeric:
            self._mlflow.log_metrics(numeric, step=step)

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        if self._mlflow is not None and Path(path).exists():
            self._mlflow.log_artifact(str(path), artifact_path=folder)

    def set_tags(self, tags: dict[str, str]) -> None:
        if self._mlflow is not None:
            self._mlflow.set_tags(tags)


@contextlib.contextmanager
def stage_run(stage: str, params: dict[str, Any], tags: dict[str, str] | None = None) -> Iterator[Run]:
    """Opens one MLflow run for a stage, with its resolved config as params and provenance tags."""
    if not enabled():
        yield Run(None)
        return
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI))
    mlflow.set_experiment(EXPERIMENT)
    all_tags = {"egovla.stage": stage, "git_commit": git_commit(), **(tags or {})}
    with mlflow.start_run(run_name=stage, tags=all_tags):
        # MLflow caps param values at 6000 chars; configs are small, lists get truncated anyway.
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        yield Run(mlflow)

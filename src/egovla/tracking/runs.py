"""One tracking context for every stage: ``with tracking.stage(...) as run: ...; run.finish(metrics)``.

The MLflow run opens *before* the work, so a crashed stage is visible (status FAILED, the error in its
tags); loops log step metrics while they run; on success the context writes the resolved
``config.json`` and ``metrics.json`` beside the outputs, logs metrics and artifacts, and closes the run.

Default tracking URI: ``sqlite:///mlflow.db`` in the working folder; ``MLFLOW_TRACKING_URI`` (a server,
a database) takes precedence. ``EGOVLA_TRACKING=off`` disables logging; the files are written either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from egovla.config import StageConfig, StageResult, numeric
from egovla.io.atomic import atomic_write_json
from egovla.tracking import lineage

log = logging.getLogger(__name__)
DEFAULT_URI = "sqlite:///mlflow.db"
EXPERIMENT = os.environ.get("EGOVLA_EXPERIMENT", "egovla")
ERROR_TAG_CHARS = 5000  # MLflow tag values are capped; the head of the error is what a person reads


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def enabled() -> bool:
    return os.environ.get("EGOVLA_TRACKING", "on").lower() not in {"off", "0", "false"}


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI)


class StageRun:
    """The handle a stage works through; every MLflow call is a no-op when tracking is off."""

    def __init__(self, name: str, out_dir: Path, record_dir: Path, mlflow_module: Any | None):
        self.name, self.out_dir, self.record_dir = name, out_dir, record_dir
        self._mlflow = mlflow_module
        self.run_id: str | None = mlflow_module.active_run().info.run_id if mlflow_module else None
        self.result: StageResult | None = None

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        values = numeric(metrics)
        if self._mlflow is not None and values:
            self._logging("logging metrics", self._mlflow.log_metrics, values, step=step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        if self._mlflow is not None:
            self._logging("setting tags", self._mlflow.set_tags, {k: str(v) for k, v in tags.items()})

    def _logging(self, what: str, fn, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            raise RuntimeError(
                f"stage {self.name}: {what} to MLflow at {tracking_uri()} failed ({type(exc).__name__}: {exc}); "
                f"outputs written so far are kept in {self.out_dir}"
            ) from exc

    def finish(
        self,
        metrics: Mapping[str, Any],
        artifacts: Mapping[str, str | Path] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> StageResult:
        """The stage's result; written and logged when the ``with`` block ends without an error."""
        self.result = StageResult(
            stage=self.name,
            out_dir=str(self.out_dir),
            metrics=dict(metrics),
            artifacts={k: str(v) for k, v in (artifacts or {}).items()},
            details=dict(details or {}),
            run_id=self.run_id,
        )
        return self.result

    def _record(self, config: StageConfig) -> None:
        result = self.result
        if result is None:
            raise RuntimeError(f"stage {self.name} ended without calling finish()")
        config.save(self.record_dir / "config.json")
        atomic_write_json(self.record_dir / "metrics.json", result.metrics)
        if self._mlflow is None:
            return
        self._mlflow.log_metrics(result.numeric_metrics())
        for name, path in result.artifacts.items():
            target = Path(path)
            if target.is_file():
                self._mlflow.log_artifact(str(target), artifact_path=self.name)
            elif target.is_dir() and any(target.iterdir()):
                self._mlflow.log_artifacts(str(target), artifact_path=f"{self.name}/{name}")


@contextlib.contextmanager
def stage(
    name: str,
    config: StageConfig,
    out_dir: str | Path,
    record_dir: str | Path | None = None,
    tags: Mapping[str, str] | None = None,
    primary: bool = True,
    data: Mapping[str, str | Path] | None = None,
) -> Iterator[StageRun]:
    """``record_dir`` (default ``out_dir``) receives config.json and metrics.json. ``primary=False``
    (the other ranks of a distributed job) tracks and records nothing. ``data``: the input folders the
    stage trains on; the run records each one's revision as ``data_rev.<name>``."""
    out = Path(out_dir)
    record = Path(record_dir) if record_dir is not None else out
    if not (primary and enabled()):
        handle = StageRun(name, out, record, None)
        yield handle
        if primary:
            handle._record(config)
        return
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    run_tags = {"egovla.stage": name, "git_commit": git_commit(), **(tags or {})}
    if lineage.pipeline_run_id():
        run_tags["pipeline_run_id"] = lineage.pipeline_run_id()
    run_tags |= {f"data_rev.{key}": lineage.data_rev(path) for key, path in (data or {}).items()}
    try:
        mlflow.set_experiment(EXPERIMENT)
        mlflow.start_run(run_name=name, tags=run_tags)
        # MLflow caps param values; configs are small, long lists are cut.
        mlflow.log_params({k: str(v)[:500] for k, v in config.flat().items()})
    except Exception as exc:
        _end_quietly(mlflow, "FAILED")
        raise RuntimeError(
            f"stage {name}: cannot open an MLflow run at {uri} ({type(exc).__name__}: {exc}); "
            f"set MLFLOW_TRACKING_URI to a reachable server or EGOVLA_TRACKING=off"
        ) from exc
    handle = StageRun(name, out, record, mlflow)
    try:
        yield handle
    except BaseException as exc:
        with contextlib.suppress(Exception):
            mlflow.set_tag("error", f"{type(exc).__name__}: {exc}"[:ERROR_TAG_CHARS])
        _end_quietly(mlflow, "FAILED")
        raise
    try:
        handle._record(config)
        mlflow.end_run("FINISHED")
    except Exception as exc:
        _end_quietly(mlflow, "FAILED")
        if (record / "metrics.json").exists():
            raise RuntimeError(
                f"stage {name}: finished, but logging to MLflow at {uri} failed ({type(exc).__name__}: {exc}); "
                f"its outputs are kept in {out}"
            ) from exc
        raise


def _end_quietly(mlflow, status: str) -> None:
    """Ends the active run; a tracking server gone by now must not hide the stage's own outcome."""
    try:
        mlflow.end_run(status)
    except Exception as exc:
        log.warning("could not end the MLflow run (%s)", exc)

"""`egovla schedule create`: the retraining pipeline as a kfp recurring run on a Kubeflow Pipelines server.

kfp's cron has six fields, seconds first, and runs in UTC; a five-field cron gets ``0`` seconds. Max
concurrency 1 and no catch-up: a slow run is never overlapped by the next, and a paused or restarted
schedule does not replay the runs it missed. Task-level caching settings stand (ingest and the gate's
registry reads are never cached), so ``enable_caching`` is left to them.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from kfp import compiler

from pipelines.local import PARAMS, pipeline_params
from pipelines.retraining import retraining_pipeline

CRON_FIELD = re.compile(r"^[\d*/,\-?LW#A-Za-z]+$")


def cron6(expression: str) -> str:
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6 or not all(CRON_FIELD.match(f) for f in fields):
        raise ValueError(
            f"--cron {expression!r}: expected 5 fields (minute hour day month weekday) or kfp's 6 "
            f"(seconds first), UTC, e.g. '0 */6 * * *'"
        )
    return " ".join(fields)


def create(
    host: str,
    cron: str,
    source: str,
    experiment: str = "egovla",
    name: str = "egovla-retraining",
    params_file: Path | None = None,
    client=None,
):
    """Creates the recurring run; returns kfp's ``V2beta1RecurringRun``."""
    import kfp

    if not (source.startswith("s3://") or source.startswith("/")):
        raise ValueError(f"--source {source!r}: the cluster's pods read an s3:// prefix or an absolute volume path")
    expression = cron6(cron)
    params = {"sources": [source], **pipeline_params(params_file or (PARAMS if PARAMS.exists() else None))}
    client = client or kfp.Client(host=host)
    exp = client.create_experiment(name=experiment)
    with tempfile.TemporaryDirectory() as tmp:
        package = str(Path(tmp) / "retraining.yaml")
        compiler.Compiler().compile(retraining_pipeline, package)
        return client.create_recurring_run(
            experiment_id=exp.experiment_id,
            job_name=name,
            description=f"retrain on {source} ({expression} UTC)",
            cron_expression=expression,
            max_concurrency=1,
            no_catchup=True,
            params=params,
            pipeline_package_path=package,
        )

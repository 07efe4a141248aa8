"""Compiles every pipeline to YAML (the artifacts uploaded to Kubeflow Pipelines)."""

from __future__ import annotations

import sys
from pathlib import Path

from kfp import compiler

from pipelines.adaptation import adaptation_pipeline
from pipelines.footage import footage_pipeline
from pipelines.pretraining import pretraining_pipeline
from pipelines.retraining import retraining_pipeline

PIPELINES = {
    "footage": footage_pipeline,
    "pretraining": pretraining_pipeline,
    "adaptation": adaptation_pipeline,
    "retraining": retraining_pipeline,
}


def compile_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, pipeline in PIPELINES.items():
        path = out_dir / f"{name}.yaml"
        compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(path))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in compile_all(Path(sys.argv[1] if len(sys.argv) > 1 else "pipelines/compiled")):
        print(p)

"""Components for the footage stages: ingest and validate."""

from typing import Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def ingest_op(
    sources: list, corpus: Output[Dataset], metrics: Output[Metrics], preset: Optional[str] = None, params: dict = {}
):
    """Decodes footage (local paths or s3:// prefixes) into a corpus artifact. ``params``: the ingest
    section of params.yaml; with ``persist`` only new clips are decoded, into that corpus, and the
    artifact is its snapshot."""
    from egovla.ingest import IngestConfig, run
    from egovla.ingest.store import snapshot

    config = IngestConfig.resolve(preset, params)
    result = run(config, [str(s) for s in sources], config.persist or corpus.path)
    if config.persist:
        snapshot(config.persist, corpus.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)
    corpus.metadata.update({"episodes": result.metrics["episodes_total"], "rejected": result.metrics["rejected"]})


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def validate_op(
    corpus: Input[Dataset],
    verdict: Output[Dataset],
    metrics: Output[Metrics],
    preset: Optional[str] = None,
    params: dict = {},
) -> bool:
    """Validates the corpus (read-only); the verdict artifact holds the report and the quarantine table."""
    from egovla.validate import ValidateConfig, run

    result = run(ValidateConfig.resolve(preset, params), corpus.path, out_dir=verdict.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)
    verdict.metadata.update({"quarantined": result.metrics["quarantined"], "success": result.details["success"]})
    return bool(result.details["success"])

"""Components for the footage stages: ingest and validate."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def ingest_op(sources: list, corpus: Output[Dataset], metrics: Output[Metrics], fps: int = 10, size: int = 128,
              source_tag: str = "unknown", licence: str = "unknown", s3_endpoint: str = ""):
    """Decodes footage (local paths or s3:// prefixes) into a corpus artifact."""
    from egovla.ingest import IngestConfig, run

    config = IngestConfig(fps=fps, size=size, source_tag=source_tag, licence=licence,
                          s3_endpoint=s3_endpoint or None)
    result = run(config, [str(s) for s in sources], corpus.path)
    for name, value in result.metrics().items():
        metrics.log_metric(name, float(value))
    corpus.metadata.update({"episodes": result.episodes_total, "rejected": result.rejected})


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def validate_op(corpus: Input[Dataset], validated: Output[Dataset], metrics: Output[Metrics],
                min_fps: float = 1.0, max_fps: float = 240.0) -> bool:
    """Validates a copy of the corpus (inputs stay read-only); failing clips are quarantined in it."""
    from egovla.validate import ValidateConfig, run

    report = run(ValidateConfig(min_fps=min_fps, max_fps=max_fps), corpus.path, out_dir=validated.path)
    for name, value in report.metrics().items():
        metrics.log_metric(name, float(value))
    validated.metadata.update({"quarantined": len(report.quarantined), "success": report.success})
    return report.success

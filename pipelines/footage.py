"""Footage pipeline: ingest -> validate -> masks. Compile: `python -m pipelines.compile`."""

from kfp import dsl

from components.footage import ingest_op, validate_op
from components.masks import masks_op


@dsl.pipeline(name="egovla-footage", description="Ingest egocentric footage into a validated corpus.")
def footage_pipeline(sources: list, fps: int = 10, size: int = 128, source_tag: str = "unknown",
                     s3_endpoint: str = "", mask_backend: str = "motion", sam2_model: str = "") -> bool:
    ingest = ingest_op(sources=sources, fps=fps, size=size, source_tag=source_tag, s3_endpoint=s3_endpoint)
    ingest.set_display_name("ingest footage")
    validate = validate_op(corpus=ingest.outputs["corpus"])
    validate.set_display_name("validate corpus")
    masks = masks_op(corpus=validate.outputs["validated"], backend=mask_backend, sam2_model=sam2_model,
                     s3_endpoint=s3_endpoint)
    masks.set_display_name("physical masks")
    masks.set_cpu_request("2")
    return validate.outputs["Output"]

"""Footage pipeline: ingest -> validate -> masks. Compile: `python -m pipelines.compile`.

Each ``*_params`` argument is that stage's params.yaml section (it may name a ``preset``), so a kfp run
resolves exactly the configs a `dvc repro` with the same params.yaml resolves.
"""

from kfp import dsl

from components.footage import ingest_op, validate_op
from components.masks import masks_op


@dsl.pipeline(name="egovla-footage", description="Ingest egocentric footage into a validated corpus.")
def footage_pipeline(
    sources: list,
    ingest_params: dict = {},
    validate_params: dict = {},
    masks_params: dict = {},
) -> bool:
    ingest = ingest_op(sources=sources, params=ingest_params).set_display_name("ingest footage")
    validate = validate_op(corpus=ingest.outputs["corpus"], params=validate_params).set_display_name("validate corpus")
    masks = masks_op(corpus=ingest.outputs["corpus"], verdict=validate.outputs["verdict"], params=masks_params)
    masks.set_display_name("physical masks").set_cpu_request("2")
    return validate.outputs["Output"]

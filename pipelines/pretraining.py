"""Pretraining: footage -> corpus -> verdict -> masks (fanned out) -> LAM -> labels -> VLM -> registry.

Each ``*_params`` argument is that stage's params.yaml section (it may name a ``preset``), so a kfp run
resolves exactly the configs a `dvc repro` with the same params.yaml resolves.
"""

from kfp import dsl

from pipelines import steps


@dsl.pipeline(name="egovla-pretraining", description="Egocentric footage to a registered LAM and VLM.")
def pretraining_pipeline(
    sources: list,
    ingest_params: dict = {},
    validate_params: dict = {},
    masks_params: dict = {},
    lam_params: dict = {},
    label_params: dict = {},
    vlm_backbone_params: dict = {},
    vlm_params: dict = {},
    release_params: dict = {},
):
    steps.pretrain(
        sources,
        ingest_params,
        validate_params,
        masks_params,
        lam_params,
        label_params,
        vlm_backbone_params,
        vlm_params,
        release_params,
    )

"""Retraining on new footage: pretraining and adaptation chained, the new policy gated against the
champion. The scheduled run (`egovla schedule create`) and the main job run this pipeline."""

from kfp import dsl

from pipelines import steps


@dsl.pipeline(name="egovla-retraining", description="New footage to a gated robot policy.")
def retraining_pipeline(
    sources: list,
    ingest_params: dict = {},
    validate_params: dict = {},
    masks_params: dict = {},
    lam_params: dict = {},
    label_params: dict = {},
    vlm_backbone_params: dict = {},
    vlm_params: dict = {},
    demos_params: dict = {},
    adapt_params: dict = {},
    eval_params: dict = {},
    release_params: dict = {},
    serving_params: dict = {},
):
    lam, vlm, lam_version, vlm_version = steps.pretrain(
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
    steps.adapt(
        lam, vlm, lam_version, vlm_version, demos_params, adapt_params, eval_params, release_params, serving_params
    )

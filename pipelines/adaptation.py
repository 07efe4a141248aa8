"""Adaptation: the registry's LAM and VLM -> robot data -> adapt -> eval -> register -> gate -> promote."""

from kfp import dsl

from pipelines import steps


@dsl.pipeline(name="egovla-adaptation", description="A registered VLM to a gated robot policy.")
def adaptation_pipeline(
    demos_params: dict = {},
    adapt_params: dict = {},
    eval_params: dict = {},
    release_params: dict = {},
    serving_params: dict = {},
):
    lam, vlm, lam_version, vlm_version = steps.fetch_pretrained(release_params)
    steps.adapt(
        lam, vlm, lam_version, vlm_version, demos_params, adapt_params, eval_params, release_params, serving_params
    )

"""Component for the physical-masks stage."""

from typing import Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def masks_op(
    corpus: Input[Dataset],
    verdict: Input[Dataset],
    masks: Output[Dataset],
    metrics: Output[Metrics],
    preset: Optional[str] = None,
    params: dict = {},
):
    """Physical masks for every usable episode; contact sheets and IoU land in the masks artifact."""
    from egovla.masks import MaskConfig, run

    config = MaskConfig.resolve(preset, params)
    result = run(config, corpus.path, out_dir=masks.path, verdict_dir=verdict.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)
    masks.metadata.update({"backend": config.backend, "mask_hash": config.mask_hash()})

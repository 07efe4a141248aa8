"""Component for the physical-masks stage."""

from typing import List, Optional

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


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def mask_shards_op(preset: Optional[str] = None, params: dict = {}) -> list:
    """The shard indices the masks fan out over (``shards`` in the masks section)."""
    from egovla.masks import MaskConfig

    return list(range(MaskConfig.resolve(preset, params).shards))


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def mask_shard_op(
    corpus: Input[Dataset],
    verdict: Input[Dataset],
    shard: int,
    masks: Output[Dataset],
    preset: Optional[str] = None,
    params: dict = {},
):
    """Masks one interleaved slice of the usable episodes (one pod of the fan-out)."""
    from egovla.masks import MaskConfig, run

    run(MaskConfig.resolve(preset, params), corpus.path, out_dir=masks.path, verdict_dir=verdict.path, shard=int(shard))


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def mask_collect_op(
    corpus: Input[Dataset],
    verdict: Input[Dataset],
    shards: Input[List[Dataset]],
    masks: Output[Dataset],
    metrics: Output[Metrics],
    preset: Optional[str] = None,
    params: dict = {},
):
    """One masks folder from the shards, with the corpus-wide tables, IoU and contact sheets."""
    from egovla.masks import MaskConfig, collect_shards, run

    config = MaskConfig.resolve(preset, params)
    collect_shards([s.path for s in shards], masks.path)
    result = run(config, corpus.path, out_dir=masks.path, verdict_dir=verdict.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)
    masks.metadata.update({"backend": config.backend, "mask_hash": config.mask_hash()})

"""Component for the physical-masks stage."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def masks_op(corpus: Input[Dataset], masks: Output[Dataset], metrics: Output[Metrics], backend: str = "motion",
             sam2_model: str = "", workers: int = 2, s3_endpoint: str = ""):
    """Physical masks for every usable episode; contact sheets and IoU land in the masks artifact."""
    from egovla.masks import MaskConfig, run

    config = MaskConfig(backend=backend, sam2_model=sam2_model or None, workers=workers,
                        s3_endpoint=s3_endpoint or None)
    result = run(config, corpus.path, out_dir=masks.path)
    for name, value in result.metrics.items():
        metrics.log_metric(name, float(value))
    masks.metadata.update({"backend": backend, "mask_hash": config.mask_hash()})

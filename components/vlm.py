"""Component for VLM latent-action pretraining (GPU nodes in the cluster; CPU under the local runner)."""

from typing import Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def vlm_pretrain_op(
    corpus: Input[Dataset],
    verdict: Input[Dataset],
    labels: Input[Dataset],
    run: Output[Model],
    metrics: Output[Metrics],
    preset: Optional[str] = None,
    params: dict = {},
    vlm_backbone_params: dict = {},
):
    """Pretrains the VLM on the labelled corpus; ``run`` holds model/ (save_pretrained) and metrics.json.
    Without a ``backbone`` in ``params`` the tiny CPU-scale LLaVA is built from ``vlm_backbone_params``
    (the embedded default)."""
    import os

    from egovla.vlm import BackboneConfig, VLMConfig, run_backbone, run_pretrain

    config = VLMConfig.resolve(preset, params)
    if config.backbone is None:
        tiny = run_backbone(BackboneConfig.resolve(None, vlm_backbone_params), os.path.join(run.path, "tiny_backbone"))
        config = VLMConfig.resolve(preset, params, {"backbone": tiny.out_dir})
    result = run_pretrain(config, corpus.path, run.path, labels_dir=labels.path, verdict_dir=verdict.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)
    run.metadata.update({"preset": config.preset, "model_subdir": "model"})

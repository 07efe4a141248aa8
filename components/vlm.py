"""Component for VLM latent-action pretraining (GPU nodes in the cluster; CPU under the local runner)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def vlm_pretrain_op(corpus: Input[Dataset], labels: Input[Dataset], run: Output[Model], metrics: Output[Metrics],
                    backbone: str = "", preset: str = "tiny", steps: int = 0, zero_stage: int = 2,
                    precision: str = "fp32", s3_endpoint: str = ""):
    """Pretrains the VLM on the labelled corpus; ``run`` holds model/ (save_pretrained) and metrics.json.
    An empty ``backbone`` builds the tiny CPU-scale LLaVA (the embedded default)."""
    import os

    from egovla.io.sources import S3Settings
    from egovla.vlm import build_tiny_llava, preset as make_preset, run_pretrain

    if not backbone:
        backbone = str(build_tiny_llava(os.path.join(run.path, "tiny_backbone"), make_preset(preset).prompt))
    overrides = {"steps": steps} if steps else {}
    config = make_preset(preset, backbone=backbone, labels_dir=labels.path, zero_stage=zero_stage,
                         precision=precision, **overrides)
    result = run_pretrain(config, corpus.path, run.path, S3Settings(endpoint_url=s3_endpoint or None))
    for name, value in result.items():
        metrics.log_metric(name, float(value))
    run.metadata.update({"preset": preset, "model_subdir": "model"})

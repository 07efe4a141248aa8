"""Components for the latent action model: train (with its same-run ablation) and label."""

from typing import Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def lam_train_op(
    corpus: Input[Dataset],
    verdict: Input[Dataset],
    masks: Input[Dataset],
    run: Output[Model],
    metrics: Output[Metrics],
    preset: Optional[str] = None,
    params: dict = {},
):
    """Trains the LAM; the run artifact holds ours/model, ablation/model, figures and metrics.json."""
    from egovla.lam import LAMConfig, run_train

    config = LAMConfig.resolve(preset, params)
    result = run_train(config, corpus.path, run.path, masks_dir=masks.path, verdict_dir=verdict.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)
    run.metadata.update({"preset": config.preset, "model_subdir": "ours/model"})


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def lam_label_op(
    corpus: Input[Dataset],
    verdict: Input[Dataset],
    run: Input[Model],
    labels: Output[Dataset],
    preset: Optional[str] = None,
    params: dict = {},
):
    """Latent action codes for every usable transition of the corpus."""
    from egovla.lam import LabelConfig, run_label

    result = run_label(LabelConfig.resolve(preset, params), corpus.path, run.path, labels.path, verdict.path)
    labels.metadata.update({k: v for k, v in result.details.items() if isinstance(v, (int, float, str))})

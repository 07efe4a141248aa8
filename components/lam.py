"""Components for the latent action model: train (with its same-run ablation) and label."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def lam_train_op(corpus: Input[Dataset], masks: Input[Dataset], run: Output[Model], metrics: Output[Metrics],
                 preset: str = "tiny", steps: int = 0, ablation: bool = True):
    """Trains the LAM; the run artifact holds ours/model, ablation/model, figures and metrics.json."""
    from egovla.lam import preset as make_preset
    from egovla.lam import run_train

    overrides = {"train": {"steps": steps}} if steps else {}
    result = run_train(make_preset(preset, masks_dir=masks.path, ablation=ablation, **overrides), corpus.path,
                       run.path)
    for name, value in result.items():
        metrics.log_metric(name, float(value))
    run.metadata.update({"preset": preset, "model_subdir": "ours/model"})


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def lam_label_op(corpus: Input[Dataset], run: Input[Model], labels: Output[Dataset]):
    """Latent action codes for every transition of the corpus."""
    import os

    from egovla.lam import run_label

    info = run_label(corpus.path, os.path.join(run.path, "ours", "model"), labels.path)
    labels.metadata.update({k: v for k, v in info.items() if isinstance(v, (int, float, str))})

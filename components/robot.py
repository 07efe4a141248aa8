"""Components for the robot side: scripted demos, adaptation (GPU nodes in the cluster) and evaluation."""

from typing import Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def demos_op(dataset: Output[Dataset], metrics: Output[Metrics], preset: Optional[str] = None, params: dict = {}):
    """Meta-World scripted-expert demonstrations as a LeRobotDataset v3."""
    from egovla.demos import DemosConfig, run

    result = run(DemosConfig.resolve(preset, params), dataset.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def adapt_op(
    dataset: Input[Dataset],
    vlm: Input[Model],
    lam: Input[Model],
    run: Output[Model],
    metrics: Output[Metrics],
    preset: Optional[str] = None,
    params: dict = {},
):
    """Adapts the pretrained VLM to the robot dataset; ``run`` holds policy/ (the self-contained checkpoint)."""
    from egovla.policy import AdaptConfig
    from egovla.policy import run as adapt

    result = adapt(AdaptConfig.resolve(preset, params), dataset.path, run.path, vlm.path, lam.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)
    run.metadata.update({"model_subdir": "policy"})


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def eval_op(
    policy: Input[Model],
    report: Output[Dataset],
    metrics: Output[Metrics],
    preset: Optional[str] = None,
    params: dict = {},
):
    """Closed-loop Meta-World success; ``report`` holds eval_info.json, success.png and videos/."""
    from egovla.eval import EvalConfig, run

    result = run(EvalConfig.resolve(preset, params), report.path, policy.path)
    for name, value in result.numeric_metrics().items():
        metrics.log_metric(name, value)

"""Components for the registry: register a trained model, fetch one, gate a candidate, promote it.

They talk to MLflow at ``MLFLOW_TRACKING_URI`` (a Kubernetes secret on the cluster, see
pipelines/cluster.py; the local runner inherits the caller's environment). ``run_id`` is kfp's pipeline
run id, recorded on every version as lineage.
"""

from typing import Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register_model_op(
    kind: str,
    run: Input[Model],
    corpus: Input[Dataset],
    record: Output[Dataset],
    run_id: str = "",
    preset: Optional[str] = None,
    params: dict = {},
) -> int:
    """A LAM or VLM run -> a new version of its registered model, tagged with the footage it saw."""
    import os

    from egovla.release import ReleaseConfig, run_register

    os.environ["EGOVLA_PIPELINE_RUN_ID"] = run_id
    result = run_register(ReleaseConfig.resolve(preset, params), kind, run.path, record.path, data_dir=corpus.path)
    return int(result.details["version"])


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register_policy_op(
    run: Input[Model],
    dataset: Input[Dataset],
    report: Input[Dataset],
    lam_version: int,
    vlm_version: int,
    record: Output[Dataset],
    run_id: str = "",
    preset: Optional[str] = None,
    params: dict = {},
) -> int:
    """An adapted policy and its eval report -> a new policy version (pyfunc), alias candidate."""
    import os

    from egovla.release import ReleaseConfig, run_register

    os.environ["EGOVLA_PIPELINE_RUN_ID"] = run_id
    lineage = {"parent.lam": str(lam_version), "parent.vlm": str(vlm_version)}
    config = ReleaseConfig.resolve(preset, params)
    result = run_register(config, "policy", run.path, record.path, report.path, dataset.path, lineage)
    return int(result.details["version"])


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def fetch_model_op(kind: str, model: Output[Model], preset: Optional[str] = None, params: dict = {}) -> int:
    """The registry's LAM or VLM (alias or version ``pretrained_ref``) into a model artifact."""
    import shutil

    from egovla import tracking
    from egovla.release import ReleaseConfig

    config = ReleaseConfig.resolve(preset, params)
    version, folder = tracking.Registry().download(
        config.model_name(kind), config.pretrained_ref, model.path + ".download"
    )
    shutil.copytree(folder, model.path, dirs_exist_ok=True)
    shutil.rmtree(model.path + ".download", ignore_errors=True)
    model.metadata.update({"version": version.version, "name": version.name})
    return version.version


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def gate_op(version: int, record: Output[Dataset], preset: Optional[str] = None, params: dict = {}) -> str:
    """Compares the candidate with the champion (same eval protocol, margin, per-task drop) and tags it:
    "promote" or "refuse". ``record`` holds gate.json (the reasons, the champion compared against)."""
    from egovla.release import ReleaseConfig, run_gate

    return run_gate(ReleaseConfig.resolve(preset, params), record.path, version, apply=False).details["decision"]


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def promote_op(version: int, gate: Input[Dataset], preset: Optional[str] = None, params: dict = {}) -> int:
    """``champion`` -> ``version``, only if the champion is still the one the gate compared against."""
    import json
    import os

    from egovla.release import ReleaseConfig, promote

    with open(os.path.join(gate.path, "gate.json")) as fh:
        decision = json.load(fh)
    reason = "gate: " + "; ".join(decision["reasons"])
    return promote(ReleaseConfig.resolve(preset, params), version, reason, decision["champion"]).version

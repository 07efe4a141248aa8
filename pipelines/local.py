"""The main job: the retraining pipeline, the one the cluster runs, through kfp's local runner on the
embedded default (the sample footage plus generated scenes with ground truth, local files, SQLite
MLflow with its registry in the working folder). `egovla demo` calls ``main``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
PARAMS = REPO / "params.yaml"
SECTIONS = (
    "ingest",
    "validate",
    "masks",
    "lam",
    "label",
    "vlm_backbone",
    "vlm",
    "demos",
    "adapt",
    "eval",
    "release",
    "serving",
)


def pipeline_params(params_file: Path | None, overrides: dict | None = None) -> dict:
    """params.yaml's sections as the pipeline's ``*_params`` arguments (the configs resolve in the tasks)."""
    doc = yaml.safe_load(params_file.read_text()) if params_file and params_file.exists() else {}
    out = {f"{s}_params": dict((doc or {}).get(s) or {}) for s in SECTIONS}
    for section, values in (overrides or {}).items():
        out[f"{section}_params"] = {**out[f"{section}_params"], **values}
    return out


def local_environment(root: Path) -> None:
    """Tracking on, into SQLite in the working folder unless MLFLOW_TRACKING_URI names another store;
    the tasks run in subprocesses that inherit this environment."""
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}")
    os.environ.setdefault("EGOVLA_TRACKING", "on")
    os.environ.setdefault("KFP_DISABLE_EXECUTION_CACHING_BY_DEFAULT", "true")
    for key in ("MLFLOW_ENABLE_TELEMETRY", "DO_NOT_TRACK"):
        os.environ.setdefault(key, "false" if key.startswith("MLFLOW") else "1")
    # the components import `components` and `pipelines` from the repository
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    root.mkdir(parents=True, exist_ok=True)


def run_retraining(sources: list[str], root: Path, params: dict) -> Path:
    """One run of the retraining pipeline under kfp's local runner; returns its run folder."""
    from kfp import local

    from pipelines.retraining import retraining_pipeline

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    started = time.time()
    retraining_pipeline(sources=sources, **params)
    runs = [p for p in root.glob("egovla-retraining-*") if p.stat().st_mtime >= started - 1]
    return max(runs, key=lambda p: p.stat().st_mtime)


def task_output(run_dir: Path, task: str, artifact: str) -> Path:
    found = sorted(run_dir.glob(f"**/{task}/{artifact}"))
    if not found:
        raise FileNotFoundError(f"{run_dir}: no output {artifact} of task {task}")
    return found[0]


def summary(run_dir: Path) -> dict:
    from egovla import tracking
    from egovla.release import ReleaseConfig

    def metrics(task: str, artifact: str, file: str = "metrics.json") -> dict:
        return json.loads((task_output(run_dir, task, artifact) / file).read_text())

    ingest = metrics("ingest-op", "corpus", "meta/ingest/metrics.json")
    masks, lam, vlm = (
        metrics("mask-collect-op", "masks"),
        metrics("lam-train-op", "run"),
        metrics("vlm-pretrain-op", "run"),
    )
    evaluation, gate = metrics("eval-op", "report"), metrics("gate-op", "record", "gate.json")

    def pair(values: dict, key: str, other: str, label: str = "ablation") -> str:
        nan = float("nan")
        return f"{values.get(key, nan):.3f} ({label} {values.get(other, nan):.3f})"

    config = ReleaseConfig()
    registry = tracking.Registry()
    champion = registry.by_alias(config.policy_model, tracking.CHAMPION)
    return {
        "pipeline_run": str(run_dir),
        "clips": f"{ingest['episodes_total']} ({ingest['rejected']} rejected)",
        "mask_iou_vs_truth": pair(masks, "iou.mean", "iou_baseline.mean", "baseline"),
        "lam_action_perplexity": pair(lam, "action.perplexity", "ablation.action.perplexity"),
        "lam_probe_r2": pair(lam, "probe.displacement_r2", "ablation.probe.displacement_r2"),
        "vlm_code_accuracy": pair(vlm, "code_accuracy", "majority_code_accuracy", "majority"),
        "robot_success": f"{evaluation['overall.pc_success']:.1f}% of {evaluation['overall.n_episodes']:.0f} episodes",
        "eval_report": str(task_output(run_dir, "eval-op", "report")),
        "registered": ", ".join(
            f"{m}: v{v.version} [{','.join(v.aliases) or '-'}]"
            for m in (config.lam_model, config.vlm_model)
            for v in registry.versions(m)[-1:]
        ),
        "policy_candidate": f"v{gate['candidate']}: gate {gate['decision']} ({'; '.join(gate['reasons'])})",
        "policy_champion": f"v{champion.version} ({champion.tags.get('eval.overall', '?')}% success)"
        if champion
        else "none",
        "tracking_uri": tracking.tracking_uri(),
    }


def served_eval(out: Path, params_file: Path | None) -> dict:
    """The champion on a Triton server on 127.0.0.1: exported from the registry, a short closed-loop
    evaluation through it on the champion's own eval seeds, then the server stopped."""
    from egovla import eval, tracking
    from egovla.release import ReleaseConfig
    from egovla.serving import ServingConfig, export, triton_server

    name = ReleaseConfig.from_params(params_file).policy_model
    registry = tracking.Registry()
    champion, folder = registry.download(name, tracking.CHAMPION, out / "serving" / "download")
    config = ServingConfig.from_params(params_file, overrides=triton_server.free_ports())
    repo = out / "serving" / "repo"
    export(config, folder, repo, champion.version)
    server = triton_server.start(repo, config, out / "serving" / "triton", os.urandom(8).hex(), [config.model_name])
    try:
        url = f"grpc://{server.grpc_url}"
        evaluation = eval.EvalConfig.from_params(params_file, overrides={"server": url, "videos": 0})
        served = eval.run(evaluation, out / "serving" / "eval", folder).metrics["overall.pc_success"]
    finally:
        server.stop()
    return {
        "served_champion": f"v{champion.version} on {url} (stopped): {served:.1f}% through Triton, "
        f"{float(champion.tags.get('eval.overall', 'nan')):.1f}% in-process when it was registered"
    }


def main(
    out: str | Path = "outputs/demo",
    echo: Callable[[str], None] = print,
    overrides: dict | None = None,
    params_file: Path | None = None,
) -> dict:
    from egovla import synth

    out = Path(out).resolve()
    params_file = params_file or (PARAMS if PARAMS.exists() else None)
    local_environment(out)
    scenes = out / "scenes"
    if not (scenes / "metrics.json").exists():
        synth.run(synth.SynthConfig.from_params(params_file), scenes)
    params = pipeline_params(params_file, overrides)
    run_dir = run_retraining([str(SAMPLES), str(scenes)], out / "kfp", params)
    result = summary(run_dir) | served_eval(out, params_file)
    echo("\negovla main job: the retraining pipeline under kfp's local runner")
    for key, value in result.items():
        echo(f"  {key:<20} {value}")
    return result


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "outputs/demo")

"""Register a trained model as a registry version, and gate a policy candidate against the champion.

run_register(config, "lam" | "vlm" | "policy", model_dir, out_dir, ...) -> StageResult
run_gate(config, out_dir, version=None, promote=True) -> StageResult
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from egovla import __version__, tracking
from egovla.config import StageResult
from egovla.ingest.store import Corpus
from egovla.io.atomic import atomic_write_json
from egovla.io.models import find_model_dir
from egovla.release import gate
from egovla.release.config import ReleaseConfig
from egovla.release.moves import promote
from egovla.tracking import lineage

RUN_SUBDIR = {
    "lam": ("ours/model", "egovla lam train"),
    "vlm": ("model", "egovla vlm pretrain"),
    "policy": ("policy", "egovla adapt"),
}
WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


def _content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _policy_example(folder: Path) -> dict[str, np.ndarray]:
    """A zero observation of the checkpoint's shapes: what the signature and input example describe."""
    doc = json.loads((folder / "config.json").read_text())
    cfg = doc["policy"]
    return {
        cfg["camera_key"]: np.zeros((1, *doc["image_shape"]), np.uint8),
        cfg["state_key"]: np.zeros((1, doc["state_dim"]), np.float32),
        "task": np.array([doc["tasks"][0]]),
    }


def _eval_results(eval_dir: Path) -> tuple[dict, dict[str, float], float]:
    for name in ("config.json", "metrics.json"):
        if not (eval_dir / name).is_file():
            raise FileNotFoundError(f"{eval_dir / name}: expected an `egovla eval` output folder")
    config = json.loads((eval_dir / "config.json").read_text())
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    per_task = {t: float(metrics[f"{t}.pc_success"]) for t in config["tasks"]}
    return config, per_task, float(metrics["overall.pc_success"])


def run_register(
    config: ReleaseConfig,
    kind: str,
    model_dir: str | Path,
    out_dir: str | Path,
    eval_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    lineage_tags: dict[str, str] | None = None,
) -> StageResult:
    """A new version of the kind's registered model, tagged with its lineage (``lineage_tags``: parent
    versions, anything the caller knows) and, for a policy, its eval results; alias ``candidate``.
    ``data_dir``: the corpus (LAM, VLM) or robot dataset (policy) it trained on."""
    name = config.model_name(kind)
    subdir, command = RUN_SUBDIR[kind]
    folder = find_model_dir(model_dir, WEIGHTS, subdir, kind, command)
    if not tracking.enabled():
        raise RuntimeError("registering a model needs MLflow tracking, and EGOVLA_TRACKING is off")
    out = Path(out_dir)
    tags = {
        "egovla.kind": kind,
        "git_commit": tracking.git_commit(),
        "pipeline_run_id": lineage.pipeline_run_id(),
        "dvc_rev": lineage.dvc_rev(),
        "content_sha256": _content_hash(folder),
        **(lineage_tags or {}),
    }
    if data_dir is not None:
        tags["data_rev"] = lineage.data_rev(data_dir)
        if kind in ("lam", "vlm"):
            tags["footage"] = Corpus(data_dir).version()
    registry = tracking.Registry()
    parent_vlm = tags.get("parent.vlm")
    if kind == "policy" and parent_vlm and "footage" not in tags:
        tags["footage"] = registry.get(config.vlm_model, int(parent_vlm)).tags.get("footage", "")
    metrics: dict[str, float] = {}
    if eval_dir is not None:
        eval_config, per_task, overall = _eval_results(Path(eval_dir))
        tags |= gate.eval_tags(eval_config, per_task, overall)
        metrics = {"eval.overall": overall, **{f"eval.{t}": v for t, v in per_task.items()}}
    data = {"training": data_dir} if data_dir is not None else None
    with tracking.stage(f"register_{kind}", config, out, tags={"model": name}, data=data) as run:
        run.log_metrics(metrics)
        if kind == "policy":
            version = registry.register_policy(name, folder, tags, _policy_example(folder), [f"egovla=={__version__}"])
        else:
            version = registry.register_folder(name, folder, run.run_id, tags)
        record = {"name": name, "version": version.version, "uri": f"models:/{name}/{version.version}"}
        atomic_write_json(out / "registered.json", record)
        return run.finish({"version": version.version, **metrics}, details=record)


def run_gate(config: ReleaseConfig, out_dir: str | Path, version: int | None = None, apply: bool = True) -> StageResult:
    """Compares the candidate (``version``, default the ``candidate`` alias) with the ``champion`` and,
    when it passes and ``apply``, promotes it. A refused candidate keeps its alias and gets the reasons
    as tags. Every read happens before the first write, and the alias move is the last write."""
    name = config.policy_model
    out = Path(out_dir)
    registry = tracking.Registry()
    candidate = registry.get(name, version) if version is not None else registry.resolve(name, tracking.CANDIDATE)
    champion = registry.by_alias(name, tracking.CHAMPION)
    if champion is not None and champion.version == candidate.version:
        decision = gate.Decision(False, [f"v{candidate.version} is already the champion"])
    else:
        decision = gate.decide(candidate.tags, champion.tags if champion else None, config.margin, config.max_task_drop)
    with tracking.stage("gate", config, out, tags={"model": name, "candidate": str(candidate.version)}) as run:
        verdict = "promote" if decision.promote else "refuse"
        registry.set_tags(
            name,
            candidate.version,
            {
                "gate.decision": verdict,
                "gate.reasons": "; ".join(decision.reasons),
                "gate.champion": str(champion.version) if champion else "",
            },
        )
        if decision.promote and apply:
            promote(
                config,
                candidate.version,
                "gate: " + "; ".join(decision.reasons),
                champion.version if champion else None,
            )
        details = {
            "decision": verdict,
            "reasons": decision.reasons,
            "candidate": candidate.version,
            "champion": champion.version if champion else None,
            "promoted": bool(decision.promote and apply),
        }
        atomic_write_json(out / "gate.json", details)
        metrics = {"promoted": int(details["promoted"])}
        if decision.delta is not None:
            metrics["delta"] = decision.delta
        return run.finish(metrics, details=details)

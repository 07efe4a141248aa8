"""The main job on the embedded default: sample footage (+ generated scenes with ground truth) ->
corpus -> validation verdict -> physical masks -> latent action model -> labels -> VLM latent-action
pretraining (tiny LLaVA, DeepSpeed on CPU) -> a small robot step (Meta-World scripted demos of two
tasks -> adaptation of a tiny policy -> closed-loop evaluation) -> summary.

Every stage's config resolves the one way, from the repository's params.yaml (the same values
`dvc repro` uses).
"""

from __future__ import annotations

import logging
from pathlib import Path

from egovla import demos, eval, ingest, lam, masks, policy, synth, validate, vlm
from egovla.ingest.store import Corpus

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples"
PARAMS = REPO / "params.yaml"


def run(out_dir: str | Path = "outputs/demo", samples: str | Path = SAMPLES, params: Path | None = None) -> dict:
    params = params if params is not None else (PARAMS if PARAMS.exists() else None)
    out = Path(out_dir)
    corpus_dir = out / "corpus"
    scenes = out / "scenes"
    if not (scenes / "metrics.json").exists():
        synth.run(synth.SynthConfig.from_params(params), scenes)
    ingested = ingest.run(ingest.IngestConfig.from_params(params), [str(samples), str(scenes)], corpus_dir)
    verdict = validate.run(validate.ValidateConfig.from_params(params), corpus_dir)
    masked = masks.run(masks.MaskConfig.from_params(params), corpus_dir)
    lam_result = lam.run_train(lam.LAMConfig.from_params(params), corpus_dir, out / "lam")
    labels = lam.run_label(lam.LabelConfig.from_params(params), corpus_dir, out / "lam")
    backbone = out / "vlm_backbone"
    if not (backbone / "config.json").exists():
        vlm.run_backbone(vlm.BackboneConfig.from_params(params), backbone)
    vlm_config = vlm.VLMConfig.from_params(params, overrides={"backbone": str(backbone)})
    vlm_metrics = vlm.run_pretrain(vlm_config, corpus_dir, out / "vlm").metrics
    robot = out / "robot"
    demo_metrics = demos.run(demos.DemosConfig.from_params(params), robot / "demos").metrics
    adapt_metrics = policy.run(
        policy.AdaptConfig.from_params(params), robot / "demos", robot / "adapt", out / "vlm", out / "lam"
    ).metrics
    eval_metrics = eval.run(eval.EvalConfig.from_params(params), robot / "eval", robot / "adapt").metrics
    per_task = ", ".join(
        f"{k.removesuffix('.pc_success')} {v:.0f}%" for k, v in eval_metrics.items() if k.endswith("-v3.pc_success")
    )
    corpus = Corpus(corpus_dir)
    manifest = corpus.manifest()
    lm, mm = lam_result.metrics, masked.metrics

    def pair(key: str, digits: int = 3) -> str:
        return f"{lm.get(key, float('nan')):.{digits}f} (ablation {lm.get(f'ablation.{key}', float('nan')):.{digits}f})"

    return {
        "corpus": str(corpus_dir),
        "data_version": corpus.version(),
        "clips": len(manifest),
        "frames": int(manifest["episode_frames"].sum()) if len(manifest) else 0,
        "added_this_run": ingested.metrics["added"],
        "skipped_this_run": ingested.metrics["skipped"],
        "rejects": len(corpus.rejects()),
        "quarantined": verdict.metrics["quarantined"],
        "usable_episodes": mm["episodes"],
        "validation": "passed" if verdict.details["success"] else "failed",
        "expectations": f"{verdict.metrics['expectations'] - verdict.metrics['expectations_failed']}/"
        f"{verdict.metrics['expectations']} passed",
        "ingest_source_fps": round(ingested.metrics["source_frames_per_s"], 1),
        "masks": masked.out_dir,
        "mask_frames_per_s": round(mm["frames_per_s"], 1),
        "mask_iou_vs_truth": round(mm.get("iou.mean", float("nan")), 3),
        "mask_iou_baseline": round(mm.get("iou_baseline.mean", float("nan")), 3),
        "contact_sheets": str(Path(masked.out_dir) / "contact_sheets"),
        "lam_model": str(out / "lam" / "ours" / "model"),
        "lam_action_perplexity": f"{lm['action.perplexity']:.2f} of 16 "
        f"(ablation {lm.get('ablation.action.perplexity', float('nan')):.2f})",
        "lam_probe_r2": pair("probe.displacement_r2"),
        "lam_robot_action_r2": pair("probe.robot_action_r2"),
        "lam_swap_invariance": pair("swap_invariance"),
        "labelled_transitions": labels.metrics["transitions"],
        "vlm_model": str(out / "vlm" / "model"),
        "vlm_code_accuracy": f"{vlm_metrics['code_accuracy']:.3f} "
        f"(majority {vlm_metrics['majority_code_accuracy']:.3f})",
        "vlm_token_accuracy": f"{vlm_metrics['token_accuracy']:.3f} "
        f"(majority {vlm_metrics['majority_token_accuracy']:.3f})",
        "robot_demos": f"{demo_metrics['episodes']} episodes, {demo_metrics['frames']} frames "
        f"({demo_metrics['failures']} expert failures dropped)",
        "policy": str(robot / "adapt" / "policy"),
        "policy_final_loss": round(adapt_metrics["final_loss"], 4),
        "policy_adapt_s": round(adapt_metrics["feature_s"] + adapt_metrics["train_s"], 1),
        "robot_success": f"{eval_metrics['overall.pc_success']:.1f}% of {eval_metrics['overall.n_episodes']} "
        f"episodes ({per_task})",
        "eval_info": str(robot / "eval" / "eval_info.json"),
    }

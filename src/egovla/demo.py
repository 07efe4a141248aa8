"""The main job on the embedded default: sample footage (+ generated scenes with ground truth) ->
corpus -> validation -> physical masks -> latent action model (tiny preset) -> labels -> VLM latent-action
pretraining (tiny LLaVA, DeepSpeed on CPU) -> summary.

Later stages (robot adaptation, ...) extend this same job.
"""

from __future__ import annotations

import logging
from pathlib import Path

from egovla import ingest, lam, masks, synth, validate, vlm
from egovla.corpus import Corpus

log = logging.getLogger(__name__)
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def run(out_dir: str | Path = "outputs/demo", samples: str | Path = SAMPLES) -> dict:
    out = Path(out_dir)
    corpus_dir = out / "corpus"
    scenes = out / "scenes"
    if not (scenes / "metrics.json").exists():
        synth.run(synth.SynthConfig(clips=20, frames=40, seed=0), scenes)  # enough episodes for the LAM probe
    ingested = ingest.run(ingest.IngestConfig(source_tag="sample"), [str(samples), str(scenes)], corpus_dir)
    report = validate.run(validate.ValidateConfig(), corpus_dir)
    masked = masks.run(masks.MaskConfig(workers=2), corpus_dir)
    lam_metrics = lam.run_train(lam.preset("tiny"), corpus_dir, out / "lam")
    labels = lam.run_label(corpus_dir, out / "lam" / "ours" / "model")
    vlm_config = vlm.preset("tiny")
    backbone = out / "vlm_backbone"
    if not (backbone / "config.json").exists():
        vlm.build_tiny_llava(backbone, vlm_config.prompt)
    vlm_metrics = vlm.run_pretrain(vlm_config.model_copy(update={"backbone": str(backbone)}), corpus_dir, out / "vlm")
    corpus = Corpus(corpus_dir)
    manifest = corpus.manifest()
    return {
        "corpus": str(corpus_dir), "data_version": corpus.version(),
        "clips": len(manifest), "frames": int(manifest["episode_frames"].sum()) if len(manifest) else 0,
        "added_this_run": ingested.added, "skipped_this_run": ingested.skipped,
        "rejects": len(corpus.rejects()), "usable_episodes": len(corpus.usable_episodes()),
        "validation": "passed" if report.success else "failed",
        "expectations": f"{sum(r['success'] for r in report.results)}/{len(report.results)} passed",
        "ingest_source_fps": round(ingested.metrics()["source_frames_per_s"], 1),
        "masks": masked.masks_dir,
        "mask_frames_per_s": round(masked.metrics["frames_per_s"], 1),
        "mask_iou_vs_truth": round(masked.metrics.get("iou.mean", float("nan")), 3),
        "mask_iou_baseline": round(masked.metrics.get("iou_baseline.mean", float("nan")), 3),
        "contact_sheets": str(Path(masked.masks_dir) / "contact_sheets"),
        "lam_model": str(out / "lam" / "ours" / "model"),
        "lam_action_perplexity": f"{lam_metrics['action.perplexity']:.2f} of 16 "
                                 f"(ablation {lam_metrics.get('ablation.action.perplexity', float('nan')):.2f})",
        "lam_probe_r2": f"{lam_metrics.get('probe.displacement_r2', float('nan')):.3f} "
                        f"(ablation {lam_metrics.get('ablation.probe.displacement_r2', float('nan')):.3f})",
        "lam_robot_action_r2": f"{lam_metrics.get('probe.robot_action_r2', float('nan')):.3f} "
                               f"(ablation {lam_metrics.get('ablation.probe.robot_action_r2', float('nan')):.3f})",
        "lam_swap_invariance": f"{lam_metrics['swap_invariance']:.3f} "
                               f"(ablation {lam_metrics.get('ablation.swap_invariance', float('nan')):.3f})",
        "labelled_transitions": labels["transitions"],
        "vlm_model": str(out / "vlm" / "model"),
        "vlm_code_accuracy": f"{vlm_metrics['code_accuracy']:.3f} (majority {vlm_metrics['majority_code_accuracy']:.3f})",
        "vlm_token_accuracy": f"{vlm_metrics['token_accuracy']:.3f} "
                              f"(majority {vlm_metrics['majority_token_accuracy']:.3f})",
    }

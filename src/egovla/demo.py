"""The main job on the embedded default: sample footage (+ generated scenes with ground truth) ->
corpus -> validation -> physical masks -> summary.

Later stages (latent actions, VLM pretraining, ...) extend this same job.
"""

from __future__ import annotations

import logging
from pathlib import Path

from egovla import ingest, masks, synth, validate
from egovla.corpus import Corpus

log = logging.getLogger(__name__)
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def run(out_dir: str | Path = "outputs/demo", samples: str | Path = SAMPLES) -> dict:
    out = Path(out_dir)
    corpus_dir = out / "corpus"
    scenes = out / "scenes"
    if not (scenes / "metrics.json").exists():
        synth.run(synth.SynthConfig(clips=5, frames=40, seed=0), scenes)
    ingested = ingest.run(ingest.IngestConfig(source_tag="sample"), [str(samples), str(scenes)], corpus_dir)
    report = validate.run(validate.ValidateConfig(), corpus_dir)
    masked = masks.run(masks.MaskConfig(workers=2), corpus_dir)
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
    }

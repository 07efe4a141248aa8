"""`egovla vlm pretrain`: teach a VLM the latent action behind each frame of human video.

<out>/model/            save_pretrained folder (safetensors): the pretrained VLM with its action tokens
<out>/checkpoints/      DeepSpeed checkpoints (resume)
<out>/config.json       resolved config      <out>/metrics.json   held-out accuracy vs majority
<out>/loss_curve.png    training loss
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.distributed as dist

from egovla import tracking
from egovla.config import StageResult
from egovla.ingest.store import Corpus
from egovla.io.atomic import atomic_write_json
from egovla.io.sources import S3Settings
from egovla.lam.figures import loss_curves
from egovla.lam.store import label_info
from egovla.vlm import evaluate
from egovla.vlm.backbone import load_backbone
from egovla.vlm.config import BackboneConfig, VLMConfig
from egovla.vlm.data import load_examples, split
from egovla.vlm.tiny import build_tiny_llava
from egovla.vlm.train import clean_shared_memory, export, join_process_group, train

log = logging.getLogger(__name__)


def run_pretrain(
    config: VLMConfig,
    corpus_dir: str | Path,
    out_dir: str | Path,
    labels_dir: str | Path | None = None,
    verdict_dir: str | Path | None = None,
    s3: S3Settings | None = None,
    stop_after: int | None = None,
) -> StageResult:
    """Every rank calls this; rank 0 writes the export, metrics and figures (other ranks' results carry
    no metrics). ``labels_dir``: default ``<corpus>/latent_actions``."""
    if config.backbone is None:
        raise ValueError(
            "no backbone: set `backbone` to a save_pretrained folder or s3:// uri "
            "(`egovla vlm tiny --out DIR` builds a tiny one)"
        )
    out = Path(out_dir)
    rank, world = join_process_group()
    with tracking.stage("vlm_pretrain", config, out, primary=rank == 0, data={"corpus": corpus_dir}) as stage:
        info = label_info(corpus_dir, labels_dir)
        train_set, eval_set = split(
            load_examples(corpus_dir, config.default_instruction, labels_dir, verdict_dir),
            config.eval_fraction,
            config.seed,
        )
        stage.set_tags({"data_version": Corpus(corpus_dir).version(), "lam_model_sha": info["model_sha"]})
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
        dist.barrier()
        torch.manual_seed(config.seed)  # the new token rows and LoRA weights start the same on every run
        s3 = s3 or S3Settings(endpoint_url=config.s3_endpoint)
        backbone = load_backbone(
            config.backbone, info["action_codes"], config.prompt, s3, config.freeze_vision, config.lora
        )
        try:
            engine, history, samples_per_s = train(backbone, config, train_set, out, stop_after, stage.log_metrics)
            export(engine, backbone, out / "model", rank, config.zero_stage)
        finally:
            clean_shared_memory()
        if rank != 0:
            return stage.finish({})
        # Score the export, loaded back the way a user loads it: this also proves the export is whole.
        pretrained = load_backbone(str(out / "model"), info["action_codes"], config.prompt)
        predicted = evaluate.predict(pretrained, eval_set, config.eval_batch_size)
        metrics = {
            "train_transitions": len(train_set),
            "eval_transitions": len(eval_set),
            "world_size": world,
            "samples_per_s": samples_per_s,
            "final_train_loss": history[-1]["loss"],
            "eval_loss": evaluate.held_out_loss(pretrained, eval_set, config.eval_batch_size),
            **evaluate.accuracy(predicted, eval_set.codes),
            **evaluate.majority_baselines(train_set.codes, eval_set.codes),
            "prior_eval_loss": evaluate.prior_loss(train_set.codes, eval_set.codes, info["action_codes"]),
        }
        loss_curves({"vlm": history}, out / "loss_curve.png")
        atomic_write_json(out / "history.json", history)
        log.info(
            "held-out loss %.3f (blind prior %.3f), code accuracy %.3f (majority %.3f), token accuracy %.3f "
            "(majority %.3f)",
            metrics["eval_loss"],
            metrics["prior_eval_loss"],
            metrics["code_accuracy"],
            metrics["majority_code_accuracy"],
            metrics["token_accuracy"],
            metrics["majority_token_accuracy"],
        )
        return stage.finish(metrics, artifacts={"loss_curve": out / "loss_curve.png"})


def run_backbone(config: BackboneConfig, out_dir: str | Path) -> StageResult:
    """`vlm tiny`: writes the tiny backbone as a save_pretrained folder."""
    out = Path(out_dir)
    with tracking.stage("vlm_backbone", config, out, record_dir=out / "build") as stage:
        build_tiny_llava(out, config.prompt, image_size=config.image_size, seed=config.seed)
        weights = out / "model.safetensors"
        return stage.finish({"weights_mb": weights.stat().st_size / 2**20}, details={"model": str(out)})

"""Stage `adapt`: a robot policy from a LeRobotDataset v3 of demonstrations (the paper's third stage).

    <out>/policy/        the self-contained checkpoint (see egovla.policy.policy)
    <out>/loss_curve.png
    <out>/config.json, metrics.json

The VLM (intent) and the perception encoder stay frozen; their features are computed once per frame
into ``cache_dir`` (default ``<out>/cache``). The LAM labels the robot's own frames, and those codes
teacher-force the VLM's answer: the step that carries human-video pretraining across embodiments.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from egovla import tracking
from egovla.config import StageResult
from egovla.demos.store import demo_seeds
from egovla.io.atomic import atomic_dir, atomic_write_json
from egovla.io.models import find_model_dir
from egovla.lam.figures import loss_curves
from egovla.lam.model import LatentActionModel
from egovla.policy.config import AdaptConfig, IntentConfig, PerceptionConfig
from egovla.policy.features import Compute, cached_features, dataset_key, file_key, open_robot_dataset, read_frames
from egovla.policy.intent import Intent
from egovla.policy.perception import Perception
from egovla.policy.policy import Normalizer, Policy, build_expert
from egovla.policy.train import Inputs, train

log = logging.getLogger(__name__)


def latent_codes(lam: LatentActionModel, gap: int, frames: np.ndarray, batch: int) -> np.ndarray:
    """Codes of transition (t, t+k) for every frame t; the last k frames repeat the last transition."""
    last = len(frames) - 1
    targets = np.minimum(np.arange(len(frames)) + gap, last)
    sources = np.minimum(np.arange(len(frames)), max(0, last - gap))
    return np.concatenate(
        [
            lam.encode(frames[sources[s : s + batch]], frames[targets[s : s + batch]])
            for s in range(0, len(frames), batch)
        ]
    )


def normalisation(dataset, keys: tuple[str, str]) -> dict[str, dict[str, list[float]]]:
    stats = dataset.stats()
    missing = [k for k in keys if k not in stats]
    if missing:
        raise ValueError(f"{dataset.root / 'meta' / 'stats.json'}: no statistics for {missing}")
    return {k: {"mean": stats[k]["mean"].tolist(), "std": stats[k]["std"].tolist()} for k in keys}


def perception_features(cfg: PerceptionConfig, data_key: str, batch: int) -> tuple[Perception, tuple[str, Compute]]:
    """The frozen encoder, and how to compute (and key) its cached tokens."""
    perception = Perception.pretrained(cfg)

    def perceive(video: np.ndarray, task: str) -> torch.Tensor:
        return torch.cat([perception(video[s : s + batch]).half() for s in range(0, len(video), batch)])

    return perception, (file_key(data_key, cfg.model_dump(mode="json")), perceive)


def intent_features(
    cfg: IntentConfig, vlm_dir: str | Path, lam_dir: str | Path, data_key: str, batch: int
) -> tuple[Intent, tuple[str, Compute], dict]:
    """The frozen VLM, how to compute (and key) its cached states with the LAM's codes teacher-forced,
    and what the checkpoint records about both."""
    vlm_folder = find_model_dir(vlm_dir, ("model.safetensors",), "model", "vision-language", "egovla vlm pretrain")
    lam_folder = find_model_dir(lam_dir, ("model.safetensors",), "ours/model", "latent action", "egovla lam train")
    lam = LatentActionModel.from_pretrained(lam_folder)
    gap = int(json.loads((lam_folder / "training.json").read_text())["frame_gap"])
    intent = Intent.load(vlm_folder, cfg.prompt, lam.cfg.action_tokens, cfg.seed if cfg.weights == "random" else None)
    if intent.codes != lam.cfg.action_codes:
        raise ValueError(
            f"{vlm_folder}: the VLM knows {intent.codes} action codes, the LAM at {lam_folder} "
            f"makes {lam.cfg.action_codes}: pretrain the VLM on this LAM's labels"
        )

    def intend(video: np.ndarray, task: str) -> torch.Tensor:
        codes = latent_codes(lam, gap, video, batch)
        parts = [
            intent.states(video[s : s + batch], [task] * len(video[s : s + batch]), codes[s : s + batch])
            for s in range(0, len(video), batch)
        ]
        return torch.cat(parts)

    key = file_key(
        data_key, vlm_folder / "model.safetensors", lam_folder / "model.safetensors", cfg.model_dump(mode="json")
    )
    meta = {"intent_width": intent.width, "intent_tokens": intent.tokens, "lam_frame_gap": gap}
    return intent, (key, intend), meta | {"vlm": str(vlm_folder), "lam": str(lam_folder)}


def run(
    config: AdaptConfig,
    dataset_dir: str | Path,
    out_dir: str | Path,
    vlm_dir: str | Path | None = None,
    lam_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> StageResult:
    """``vlm_dir``: a `vlm pretrain` run or model folder; ``lam_dir``: a `lam train` run or model folder.
    Both are needed when intent comes from the VLM, neither for behaviour cloning (``intent.source=onehot``)."""
    out = Path(out_dir)
    pcfg, tcfg = config.policy, config.train
    cache = Path(cache_dir) if cache_dir is not None else out / "cache"
    dataset = open_robot_dataset(dataset_dir, pcfg.camera_key, pcfg.state_key, pcfg.action_key)
    if pcfg.intent.source == "vlm" and (vlm_dir is None or lam_dir is None):
        raise ValueError("intent.source=vlm needs a pretrained VLM (--vlm) and the LAM that labelled it (--lam)")
    with tracking.stage("adapt", config, out, data={"dataset": dataset_dir}) as stage:
        data_key = dataset_key(dataset)
        stage.set_tags({"data_version": data_key, "intent": pcfg.intent.source, "intent_weights": pcfg.intent.weights})
        frames = read_frames(dataset, pcfg.state_key, pcfg.action_key)
        stats = normalisation(dataset, (pcfg.state_key, pcfg.action_key))
        torch.manual_seed(tcfg.seed)
        meta = {
            "tasks": frames.tasks,
            "state_dim": frames.states.shape[1],
            "action_dim": frames.actions.shape[1],
            "image_shape": list(dataset.features[pcfg.camera_key]["shape"]),
        }
        wanted, perception, intent = {}, None, None
        if pcfg.perception.enabled:
            perception, wanted["perception"] = perception_features(pcfg.perception, data_key, tcfg.feature_batch)
            meta["perception_width"] = perception.width
        if pcfg.intent.source == "vlm":
            intent, wanted["intent"], about = intent_features(
                pcfg.intent, vlm_dir, lam_dir, data_key, tcfg.feature_batch
            )
            meta |= about

        started = time.perf_counter()
        features = cached_features(cache, dataset, pcfg.camera_key, wanted)
        feature_s = time.perf_counter() - started
        for name, tensor in features.items():
            if len(tensor) != len(frames):
                raise ValueError(
                    f"{cache}: cached {name} features hold {len(tensor)} frames, the dataset {len(frames)}"
                )
        if "perception" in features:
            meta["perception_tokens"] = int(features["perception"].shape[1])

        # frozen features are standardised per channel, like the state: the expert sees unit scales
        normalizer = Normalizer(stats | {name: Normalizer.channel_stats(tokens) for name, tokens in features.items()})
        scaled = {name: normalizer.features(name, tokens) for name, tokens in features.items()}
        inputs = Inputs(
            frames,
            torch.from_numpy(normalizer.normalize(pcfg.state_key, frames.states)),
            normalizer.normalize(pcfg.action_key, frames.actions),
            scaled.get("perception"),
            scaled.get("intent"),
        )
        expert = build_expert(pcfg, meta)
        started = time.perf_counter()
        history, samples_per_s = train(expert, inputs, tcfg, stage.log_metrics)
        train_s = time.perf_counter() - started

        seeds = demo_seeds(dataset_dir)
        meta |= {"dataset": str(dataset_dir), "data_version": data_key, "demo_seeds": seeds}
        policy = Policy(pcfg, meta, expert, normalizer, perception, intent)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_dir(out / "policy") as tmp:
            policy.save_pretrained(tmp)
        loss_curves({"adapt": [{"step": i, "loss": v} for i, v in enumerate(history)]}, out / "loss_curve.png")
        atomic_write_json(out / "history.json", history)
        tail = max(1, len(history) // 10)
        metrics = {
            "frames": len(frames),
            "episodes": len(frames.episodes),
            "tasks": len(frames.tasks),
            "final_loss": float(np.mean(history[-tail:])) if history else float("nan"),
            "feature_s": feature_s,
            "train_s": train_s,
            "train_samples_per_s": samples_per_s,
            "trainable_params": sum(p.numel() for p in expert.parameters()),
        }
        return stage.finish(metrics, artifacts={"loss_curve": out / "loss_curve.png", "policy": out / "policy"})

"""Stages: `lam train` (model + same-run ablation + disentanglement metrics) and `lam label`."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from egovla import tracking
from egovla.config import StageResult
from egovla.ingest.store import Corpus
from egovla.io.atomic import atomic_dir
from egovla.io.models import find_model_dir
from egovla.lam import evaluate, figures, store
from egovla.lam.config import LabelConfig, LAMConfig, ModelConfig
from egovla.lam.data import Transitions, split_episodes
from egovla.lam.model import LatentActionModel
from egovla.lam.train import train
from egovla.masks.store import backend_of, resolve_masks_dir
from egovla.validate.store import usable_episodes

log = logging.getLogger(__name__)


def feature_grid(cfg: ModelConfig) -> int:
    if cfg.features in ("pixels", "efficientnet-lite0"):
        return cfg.image_size // cfg.patch_size
    from transformers import AutoConfig

    from egovla.io.models import resolve_model_dir

    return cfg.image_size // int(AutoConfig.from_pretrained(resolve_model_dir(cfg.features)).patch_size)


def true_displacements(corpus: Corpus, data: Transitions, gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Rows of ``data`` from generated clips, their true displacement (dx, dy), and their episode."""
    shifts, rows = {}, []
    for e in data.frames:
        truth = corpus.truth(e)
        if truth is not None:
            shifts[e] = evaluate.true_displacement(truth.actions, gap)
    targets, episodes = [], []
    for i, (e, t) in enumerate(data.index):
        if e in shifts:
            rows.append(i)
            targets.append(shifts[e][t])
            episodes.append(e)
    return (np.asarray(rows), np.asarray(targets), np.asarray(episodes)) if rows else None


def assess(
    model: LatentActionModel,
    train_data: Transitions,
    eval_data: Transitions,
    corpus: Corpus,
    gap: int,
    config: LAMConfig,
) -> tuple[dict[str, float], np.ndarray]:
    """Disentanglement metrics, and the training transitions' action codes (for the usage plot)."""
    cfg = model.cfg
    metrics = evaluate.reconstruction(model, eval_data if len(eval_data) else train_data)
    train_codes, train_bg = evaluate.codes_for(model, train_data)
    eval_codes, eval_bg = evaluate.codes_for(model, eval_data) if len(eval_data) else (train_codes[:0], None)
    everything = np.concatenate([train_codes, eval_codes])
    metrics["action.usage"], metrics["action.perplexity"] = evaluate.perplexity(everything, cfg.action_codes)
    metrics["action.collapsed"] = float(metrics["action.usage"] * cfg.action_codes <= 1)  # one code: a failure
    if train_bg is not None:
        bg = np.concatenate([train_bg] + ([eval_bg] if eval_bg is not None else []))
        metrics["background.usage"], metrics["background.perplexity"] = evaluate.perplexity(bg, cfg.background_codes)
    truths = [
        (codes, t)
        for codes, t in (
            (train_codes, true_displacements(corpus, train_data, gap)),
            (eval_codes, true_displacements(corpus, eval_data, gap)),
        )
        if t is not None
    ]
    if truths:  # generated clips know the actor's true motion: do the codes predict it?
        x = np.concatenate([evaluate.one_hot(codes[rows], cfg.action_codes) for codes, (rows, _, _) in truths])
        y = np.concatenate([t[1] for _, t in truths])
        groups = np.concatenate([t[2] for _, t in truths])
        metrics["probe.displacement_r2"] = evaluate.probe_r2_by_episode(x, y, groups)
    metrics |= evaluate.swap_and_sensitivity(model, gap, config.swap_scenes)
    if config.robot_episodes:
        metrics["probe.robot_action_r2"] = evaluate.robot_action_r2(
            model, config.robot_span, config.robot_tasks, config.robot_episodes
        )
    return metrics, train_codes


def run_train(
    config: LAMConfig,
    corpus_dir: str | Path,
    out_dir: str | Path,
    masks_dir: str | Path | None = None,
    verdict_dir: str | Path | None = None,
    stop_after: int | None = None,
) -> StageResult:
    """``masks_dir``: default, the one masks folder under ``<corpus>/masks/`` (whichever backend made it).
    ``stop_after`` ends training early at that step (tests use it to simulate an interruption)."""
    out = Path(out_dir)
    corpus = Corpus(corpus_dir)
    tcfg, mcfg = config.train, config.model
    with tracking.stage("lam_train", config, out, data={"corpus": corpus_dir}) as stage:
        masks = resolve_masks_dir(corpus_dir, masks_dir)
        stage.set_tags({"data_version": corpus.version(), "masks_backend": backend_of(masks)})
        out.mkdir(parents=True, exist_ok=True)
        train_eps, eval_eps = split_episodes(usable_episodes(corpus, verdict_dir), tcfg.eval_fraction, tcfg.seed)
        grid = feature_grid(mcfg)

        def load(episodes: list[int]) -> Transitions:
            return Transitions(
                corpus_dir,
                episodes,
                mcfg.image_size,
                tcfg.frame_gap,
                grid,
                masks,
                use_masks=True,
                foreground=tcfg.foreground,
            )

        train_data, eval_data = load(train_eps), load(eval_eps)
        if not len(train_data):
            raise ValueError(f"{corpus_dir}: no episode longer than the frame gap {tcfg.frame_gap}")
        runs = {"ours": (mcfg, tcfg)}
        if config.ablation:  # LAPA/UniVLA-style: no masks, one codebook, same data/seed/steps
            runs["ablation"] = (
                mcfg.model_copy(update={"single_codebook": True}),
                tcfg.model_copy(update={"use_masks": False}),
            )
        metrics: dict[str, float] = {"train_transitions": len(train_data), "eval_transitions": len(eval_data)}
        histories, usage = {}, {}
        for name, (m_cfg, t_cfg) in runs.items():
            prefix = "" if name == "ours" else "ablation."

            def log_step(losses: dict, step: int, prefix: str = prefix) -> None:
                stage.log_metrics({f"{prefix}{k}": v for k, v in losses.items()}, step=step)

            model, history, samples_per_s = train(m_cfg, t_cfg, train_data, out / name, stop_after, log_step)
            with atomic_dir(out / name / "model") as tmp:
                model.save_pretrained(tmp)
                training = {
                    "frame_gap": t_cfg.frame_gap,
                    "preset": config.preset,
                    "use_masks": t_cfg.use_masks,
                    "seed": t_cfg.seed,
                    "masks_dir": str(masks),
                    "masks_backend": backend_of(masks),
                }
                (tmp / "training.json").write_text(json.dumps(training))
            histories[name] = history
            metrics[f"{prefix}samples_per_s"] = samples_per_s
            found, usage[f"{name} action codes"] = assess(model, train_data, eval_data, corpus, t_cfg.frame_gap, config)
            metrics |= {f"{prefix}{k}": v for k, v in found.items()}
            if name == "ours":
                spread = np.arange(0, len(train_data), max(1, len(train_data) // 4))
                frames_t, frames_tk, _ = train_data.batch(spread)
                figures.reconstructions(model, frames_t, frames_tk, out / "reconstructions.png")
        figures.loss_curves(histories, out / "loss_curves.png")
        figures.codebook_usage(usage, mcfg.action_codes, out / "codebook_usage.png")
        artifacts = {png: out / f"{png}.png" for png in ("loss_curves", "codebook_usage", "reconstructions")}
        return stage.finish(metrics, artifacts=artifacts)


def run_label(
    config: LabelConfig,
    corpus_dir: str | Path,
    model_dir: str | Path,
    out_dir: str | Path | None = None,
    verdict_dir: str | Path | None = None,
) -> StageResult:
    """Writes every usable transition's action (and discrete background) codes into ``out_dir``
    (default ``<corpus>/latent_actions``). ``model_dir``: a LAM folder or a `lam train` run folder."""
    folder = find_model_dir(model_dir, ("model.safetensors",), "ours/model", "latent action", "egovla lam train")
    corpus = Corpus(corpus_dir)
    out = store.labels_dir(corpus_dir, out_dir)
    batch = config.batch_size
    with tracking.stage("lam_label", config, out, data={"corpus": corpus_dir}) as stage:
        model = LatentActionModel.from_pretrained(folder)
        gap = int(json.loads((folder / "training.json").read_text())["frame_gap"])
        model_sha = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()[:16]
        stage.set_tags({"data_version": corpus.version(), "model_sha": model_sha})
        labelled, transitions = 0, 0
        for e in usable_episodes(corpus, verdict_dir):
            frames = corpus.read_frames(e)
            if len(frames) <= gap:
                continue
            count = len(frames) - gap
            chunks = [
                model.encode_all(frames[s : min(s + batch, count)], frames[s + gap : min(s + batch, count) + gap])
                for s in range(0, count, batch)
            ]
            action = np.concatenate([c[0] for c in chunks])
            background = np.concatenate([c[1] for c in chunks]) if chunks[0][1] is not None else None
            store.write_codes(out, e, gap, action, background)
            labelled += 1
            transitions += len(action)
        info = {
            "model_dir": str(folder),
            "model_sha": model_sha,
            "frame_gap": gap,
            "action_tokens": model.cfg.action_tokens,
            "action_codes": model.cfg.action_codes,
            "episodes": labelled,
            "transitions": transitions,
        }
        store.write_info(out, info)
        return stage.finish({"episodes": labelled, "transitions": transitions}, details=info)

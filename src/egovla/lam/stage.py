"""Stages: `lam train` (model + same-run ablation + disentanglement metrics) and `lam label`."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from egovla import tracking
from egovla.corpus import Corpus
from egovla.io.atomic import atomic_dir, atomic_write_json, atomic_write_parquet
from egovla.io.tables import read_parquet
from egovla.lam import evaluate, figures
from egovla.lam.config import LAMConfig, ModelConfig
from egovla.lam.data import Transitions, split_episodes
from egovla.lam.model import LatentActionModel
from egovla.lam.train import train

log = logging.getLogger(__name__)
LABELS = "latent_actions"


def feature_grid(cfg: ModelConfig) -> int:
    if cfg.features == "pixels":
        return cfg.image_size // cfg.patch_size
    from transformers import AutoConfig

    from egovla.io.models import resolve_model_dir

    return cfg.image_size // int(AutoConfig.from_pretrained(resolve_model_dir(cfg.features)).patch_size)


def true_displacements(corpus: Corpus, data: Transitions,
                       gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Rows of ``data`` from generated clips, their true displacement (dx, dy), and their episode."""
    from egovla.synth import read_ground_truth

    uris = corpus.manifest().set_index("episode_index")["source_uri"]
    shifts, rows = {}, []
    for e in data.frames:
        path = Path(str(uris[e]))
        if path.with_suffix(".gt.npz").exists():
            shifts[e] = evaluate.true_displacement(read_ground_truth(path).actions, gap)
    targets, episodes = [], []
    for i, (e, t) in enumerate(data.index):
        if e in shifts:
            rows.append(i)
            targets.append(shifts[e][t])
            episodes.append(e)
    return (np.asarray(rows), np.asarray(targets), np.asarray(episodes)) if rows else None


def assess(model: LatentActionModel, train_data: Transitions, eval_data: Transitions, corpus: Corpus,
           gap: int, config: LAMConfig) -> tuple[dict[str, float], np.ndarray]:
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
    truths = [(codes, t) for codes, t in ((train_codes, true_displacements(corpus, train_data, gap)),
                                          (eval_codes, true_displacements(corpus, eval_data, gap))) if t is not None]
    if truths:  # generated clips know the actor's true motion: do the codes predict it?
        x = np.concatenate([evaluate.one_hot(codes[rows], cfg.action_codes) for codes, (rows, _, _) in truths])
        y = np.concatenate([t[1] for _, t in truths])
        groups = np.concatenate([t[2] for _, t in truths])
        metrics["probe.displacement_r2"] = evaluate.probe_r2_by_episode(x, y, groups)
    metrics |= evaluate.swap_and_sensitivity(model, gap, config.swap_scenes)
    if config.robot_episodes:
        metrics["probe.robot_action_r2"] = evaluate.robot_action_r2(model, gap, config.robot_tasks,
                                                                    config.robot_episodes)
    return metrics, train_codes


def run_train(config: LAMConfig, corpus_dir: str | Path, out_dir: str | Path, stop_after: int | None = None) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(corpus_dir)
    tcfg, mcfg = config.train, config.model
    train_eps, eval_eps = split_episodes(corpus.usable_episodes(), tcfg.eval_fraction, tcfg.seed)
    grid = feature_grid(mcfg)

    def load(episodes: list[int]) -> Transitions:
        return Transitions(corpus_dir, episodes, mcfg.image_size, tcfg.frame_gap, grid, config.masks_dir,
                           use_masks=True, foreground=tcfg.foreground)

    train_data, eval_data = load(train_eps), load(eval_eps)
    if not len(train_data):
        raise ValueError(f"{corpus_dir}: no episode longer than the frame gap {tcfg.frame_gap}")
    config.save(out / "config.json")

    runs = {"ours": (mcfg, tcfg)}
    if config.ablation:  # LAPA/UniVLA-style: no masks, one codebook, same data/seed/steps
        runs["ablation"] = (mcfg.model_copy(update={"single_codebook": True}),
                            tcfg.model_copy(update={"use_masks": False}))
    metrics: dict[str, float] = {"train_transitions": len(train_data), "eval_transitions": len(eval_data)}
    histories, usage = {}, {}
    for name, (m_cfg, t_cfg) in runs.items():
        model, history, samples_per_s = train(m_cfg, t_cfg, train_data, out / name, stop_after)
        with atomic_dir(out / name / "model") as tmp:
            model.save_pretrained(tmp)
            training = {"frame_gap": t_cfg.frame_gap, "preset": config.preset, "use_masks": t_cfg.use_masks,
                        "seed": t_cfg.seed}
            (tmp / "training.json").write_text(json.dumps(training))
        histories[name] = history
        prefix = "" if name == "ours" else "ablation."
        metrics[f"{prefix}samples_per_s"] = samples_per_s
        found, usage[f"{name} action codes"] = assess(model, train_data, eval_data, corpus, t_cfg.frame_gap, config)
        metrics |= {f"{prefix}{k}": v for k, v in found.items()}
        if name == "ours":
            spread = np.arange(0, len(train_data), max(1, len(train_data) // 4))
            frames_t, frames_tk, _ = train_data.batch(spread)
            figures.reconstructions(model, frames_t, frames_tk, out / "reconstructions.png")
    figures.loss_curves(histories, out / "loss_curves.png")
    figures.codebook_usage(usage, mcfg.action_codes, out / "codebook_usage.png")
    atomic_write_json(out / "metrics.json", metrics)
    with tracking.stage_run("lam_train", config.flat(), {"data_version": corpus.version()}) as run_:
        run_.log_metrics(metrics)
        for png in ("loss_curves.png", "codebook_usage.png", "reconstructions.png"):
            run_.log_artifact(out / png, "lam")
    return metrics


def run_label(corpus_dir: str | Path, model_dir: str | Path, out_dir: str | Path | None = None,
              batch: int = 128) -> dict:
    """Writes every transition's action (and discrete background) codes into the corpus
    (``<corpus>/latent_actions``), or into ``out_dir`` (DVC keeps stage outputs apart)."""
    model = LatentActionModel.from_pretrained(model_dir)
    gap = int(json.loads((Path(model_dir) / "training.json").read_text())["frame_gap"])
    corpus = Corpus(corpus_dir)
    out = Path(out_dir) if out_dir is not None else Path(corpus_dir) / LABELS
    model_sha = hashlib.sha256((Path(model_dir) / "model.safetensors").read_bytes()).hexdigest()[:16]
    labelled, transitions = 0, 0
    for e in corpus.usable_episodes():
        frames = corpus.read_frames(e)
        if len(frames) <= gap:
            continue
        count = len(frames) - gap
        chunks = [model.encode_all(frames[s:min(s + batch, count)], frames[s + gap:min(s + batch, count) + gap])
                  for s in range(0, count, batch)]
        action = np.concatenate([c[0] for c in chunks])
        table = {"frame_index": np.arange(len(action)), "target_frame_index": np.arange(len(action)) + gap}
        table |= {f"action_{j}": action[:, j] for j in range(action.shape[1])}
        if chunks[0][1] is not None:
            background = np.concatenate([c[1] for c in chunks])
            table |= {f"background_{j}": background[:, j] for j in range(background.shape[1])}
        atomic_write_parquet(out / f"episode_{e:06d}.parquet", pd.DataFrame(table))
        labelled += 1
        transitions += len(action)
    info = {"model_dir": str(model_dir), "model_sha": model_sha, "frame_gap": gap,
            "action_tokens": model.cfg.action_tokens, "action_codes": model.cfg.action_codes,
            "episodes": labelled, "transitions": transitions}
    atomic_write_json(out / "info.json", info)
    with tracking.stage_run("lam_label", {"model_dir": str(model_dir), "frame_gap": gap},
                            {"data_version": corpus.version(), "model_sha": model_sha}) as run_:
        run_.log_metrics({"episodes": labelled, "transitions": transitions})
    return info


def read_codes(corpus_dir: str | Path, episode_index: int, background: bool = False,
               labels_dir: str | Path | None = None) -> np.ndarray:
    """Action codes of one episode: int64 (transitions, tokens); row i is the transition (i, i+k).
    ``background=True`` returns the background codes instead (discrete background only);
    ``labels_dir`` overrides the default ``<corpus>/latent_actions``."""
    folder = Path(labels_dir) if labels_dir is not None else Path(corpus_dir) / LABELS
    path = folder / f"episode_{episode_index:06d}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: episode {episode_index} is not labelled (run `egovla lam label`)")
    table = read_parquet(path)
    prefix = "background_" if background else "action_"
    columns = [c for c in table.columns if c.startswith(prefix)]
    if not columns:
        raise ValueError(f"{path}: no {prefix[:-1]} codes (continuous background?)")
    return table[columns].to_numpy(np.int64)

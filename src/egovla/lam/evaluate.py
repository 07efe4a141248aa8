"""Does the model disentangle? Reconstruction per path, codebook health, and what the codes mean."""

from __future__ import annotations

import numpy as np
import torch

from egovla.lam.data import Transitions
from egovla.lam.model import LatentActionModel
from egovla.synth.scene import KINDS, SceneSpec, render


def perplexity(codes: np.ndarray, size: int) -> tuple[float, float]:
    """(usage: share of codes ever used, perplexity: exp of the code distribution's entropy)."""
    counts = np.bincount(codes.ravel(), minlength=size).astype(float)
    p = counts / max(counts.sum(), 1)
    nz = p[p > 0]
    return float((counts > 0).mean()), float(np.exp(-(nz * np.log(nz)).sum()))


@torch.no_grad()
def reconstruction(model: LatentActionModel, data: Transitions, batch: int = 64) -> dict[str, float]:
    """Feature-prediction error per decoder path, on foreground and background patches."""
    sums: dict[str, float] = {}
    weights = {"fg": 0.0, "bg": 0.0}
    for start in range(0, len(data), batch):
        frames_t, frames_tk, fg = data.batch(np.arange(start, min(start + batch, len(data))))
        feats_t, feats_tk = model.tokens(frames_t, bool(data.tokens)), model.tokens(frames_tk, bool(data.tokens))
        z = model.latents(feats_t, feats_tk)
        paths = {"full": (z.action, z.background)}
        if model.n_background:
            paths |= {"action_only": (z.action, None), "background_only": (None, z.background)}
        fg = fg if fg is not None else torch.zeros(feats_t.shape[:2])
        for name, (a, b) in paths.items():
            err = (model.decode(feats_t, a, b) - feats_tk).pow(2).mean(-1)
            sums[f"{name}.fg"] = sums.get(f"{name}.fg", 0.0) + float((err * fg).sum())
            sums[f"{name}.bg"] = sums.get(f"{name}.bg", 0.0) + float((err * (1 - fg)).sum())
        weights["fg"] += float(fg.sum())
        weights["bg"] += float((1 - fg).sum())
    return {f"recon.{k}": v / max(weights[k.rsplit(".", 1)[1]], 1e-9) for k, v in sums.items()}


def codes_for(model: LatentActionModel, data: Transitions, batch: int = 128) -> tuple[np.ndarray, np.ndarray | None]:
    actions, backgrounds = [], []
    for start in range(0, len(data), batch):
        frames_t, frames_tk, _ = data.batch(np.arange(start, min(start + batch, len(data))))
        a, b = model.encode_all(frames_t, frames_tk, cached=bool(data.tokens))
        actions.append(a)
        if b is not None:
            backgrounds.append(b)
    return np.concatenate(actions), (np.concatenate(backgrounds) if backgrounds else None)


def one_hot(codes: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((len(codes), codes.shape[1] * size), np.float32)
    for j in range(codes.shape[1]):
        out[np.arange(len(codes)), j * size + codes[:, j]] = 1
    return out


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """R^2 of predictions, averaged over the outputs (columns)."""
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    return float(np.mean(1 - ss_res / np.maximum(ss_tot, 1e-9)))


def ridge_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """Predictions for ``test_x`` of a ridge regression (with intercept) fitted on the training rows."""
    x = np.c_[train_x, np.ones(len(train_x))]
    w = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ train_y)
    return np.c_[test_x, np.ones(len(test_x))] @ w


def probe_r2_by_episode(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5) -> float:
    """K-fold over episodes (a transition's neighbours never sit on both sides): pooled held-out R^2."""
    episodes = np.unique(groups)
    if len(episodes) < 2:
        return float("nan")
    pred = np.zeros_like(y, dtype=float)
    for held in np.array_split(episodes, min(folds, len(episodes))):
        test = np.isin(groups, held)
        pred[test] = ridge_predict(x[~test], y[~test], x[test])
    return r2(y, pred)


def true_displacement(actions: np.ndarray, gap: int) -> np.ndarray:
    """Per transition (t, t+gap): the actor's summed world displacement (dx, dy)."""
    cum = np.r_[np.zeros((1, 2)), np.cumsum(actions[:, :2], 0)]
    return cum[gap : len(actions)] - cum[: len(actions) - gap]


def swap_and_sensitivity(
    model: LatentActionModel, gap: int, scenes: int, frames: int = 24, size: int = 128, seed: int = 10_000
) -> dict[str, float]:
    """Same motion over different backgrounds: how often the action code stays the same.
    Same background, different motion: how often it changes. Whole code and per token."""
    same_full, same_token, diff_full, diff_token = [], [], [], []
    for i in range(scenes):
        kind = KINDS[i % len(KINDS)]
        base = render(SceneSpec(kind, seed + i, seed + 100 + i, frames=frames, size=size))
        swapped = render(SceneSpec(kind, seed + i, seed + 200 + i, frames=frames, size=size))
        moved = render(SceneSpec(kind, seed + 300 + i, seed + 100 + i, frames=frames, size=size))
        c = [model.encode(v.frames[:-gap], v.frames[gap:]) for v in (base, swapped, moved)]
        moving = np.linalg.norm(true_displacement(base.actions, gap), axis=1) > 1.0
        same_full.append((c[0] == c[1]).all(1)[moving])
        same_token.append((c[0] == c[1]).mean(1)[moving])
        diff_full.append((c[0] != c[2]).any(1))
        diff_token.append((c[0] != c[2]).mean(1))
    return {
        "swap_invariance": float(np.concatenate(same_full).mean()),
        "swap_invariance_per_token": float(np.concatenate(same_token).mean()),
        "motion_sensitivity": float(np.concatenate(diff_full).mean()),
        "motion_sensitivity_per_token": float(np.concatenate(diff_token).mean()),
    }


def robot_action_r2(
    model: LatentActionModel, span: int, tasks: tuple[str, ...], episodes: int, steps: int = 60, size: int = 128
) -> float:
    """Cross-embodiment check: do codes learned from human video predict a robot's true actions?
    Meta-World scripted-expert rollouts; target = the summed end-effector action over (t, t+span)."""
    from egovla.sim.metaworld import scripted_rollout

    xs, ys, groups = [], [], []
    for i in range(episodes):
        rollout = scripted_rollout(tasks[i % len(tasks)], seed=i, steps=steps + span, size=size)
        if len(rollout.frames) <= span:
            continue
        codes = model.encode(rollout.frames[:-span], rollout.frames[span:])
        cum = np.r_[np.zeros((1, 3)), np.cumsum(rollout.actions[:, :3], 0)]
        xs.append(one_hot(codes, model.cfg.action_codes))
        ys.append(cum[span : len(rollout.frames)] - cum[: len(rollout.frames) - span])
        groups.append(np.full(len(codes), i))
    if len(xs) < 2:
        return float("nan")
    return probe_r2_by_episode(np.concatenate(xs), np.concatenate(ys), np.concatenate(groups))

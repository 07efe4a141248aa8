"""How much of a Meta-World robot's action can any function of two frames recover? The robot probe's ceiling.

    .venv/bin/python benchmarks/lam_robot_ceiling.py [--episodes 24] [--steps 120] [--spans 2 4 8 16]

The LAM's robot-action probe (lam.evaluate.robot_action_r2) regresses the summed end-effector action
over a transition (t, t+span) on the LAM's action codes. This measures, on the same scripted rollouts
and with the same episode-wise ridge probe, what richer inputs reach at each span: the frozen
EfficientNet-Lite0 stride-16 feature difference (the LAM's input), pooled and per grid cell, and the
true hand displacement from the robot's state (what the frames can show at best). The LAM trains on
human clips at 10 fps with a gap of 2 frames, i.e. 0.2 s of motion; Meta-World steps at 80 Hz, so a
span of 2 robot steps is 25 ms of motion, and span 16 is the same 0.2 s.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import torch
from results import save

from egovla.lam.evaluate import probe_r2_by_episode
from egovla.lam.features import EfficientNetFeatures
from egovla.sim.metaworld import scripted_rollout

TASKS = ("reach-v3", "push-v3", "pick-place-v3")


@torch.no_grad()
def tokens(features: EfficientNetFeatures, frames: np.ndarray) -> np.ndarray:
    """The LAM's own input: (T, tokens, channels) of the frozen, layer-normed feature map."""
    return features(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--spans", type=int, nargs="+", default=[2, 4, 8, 16])
    args = parser.parse_args()
    features = EfficientNetFeatures(image_size=128, stride=16)
    rollouts = [scripted_rollout(TASKS[i % len(TASKS)], seed=i, steps=args.steps) for i in range(args.episodes)]
    feats = [tokens(features, r.frames) for r in rollouts]
    figures = {}
    for span in args.spans:
        x_pool, x_grid, x_hand, ys, groups = [], [], [], [], []
        for i, (r, f) in enumerate(zip(rollouts, feats)):
            n = len(r.frames) - span
            diff = f[span:] - f[:n]
            cum = np.r_[np.zeros((1, 3)), np.cumsum(r.actions[:, :3], 0)]
            x_pool.append(diff.mean(1))
            x_grid.append(diff.reshape(n, -1))
            x_hand.append(r.states[span:, :3] - r.states[:n, :3])
            ys.append(cum[span : span + n] - cum[:n])
            groups.append(np.full(n, i))
        y, g = np.concatenate(ys), np.concatenate(groups)
        row = {
            "features_pooled": probe_r2_by_episode(np.concatenate(x_pool), y, g),
            "features_grid": probe_r2_by_episode(np.concatenate(x_grid), y, g),
            "hand_displacement": probe_r2_by_episode(np.concatenate(x_hand), y, g),
        }
        figures[f"span{span}"] = row
        print(f"span {span:>3}: " + "  ".join(f"{k} {v:+.3f}" for k, v in row.items()), flush=True)
    print(save("lam_robot_ceiling", vars(args), figures))


if __name__ == "__main__":
    main()

"""How well can the tiny LAM's encoder read the actor's motion at all? The ceiling of the probe.

    .venv/bin/python benchmarks/lam_encoder_ceiling.py [--clips 40] [--steps 600] [--lr 1e-3] [--gaps 2 3]

Trains the LAM encoder of the tiny preset, plus a linear head on its action queries, *directly* on
the true displacement of generated clips (supervised), with and without the training augmentation,
and prints R^2 on its own episodes and on held-out ones. The VQ-VAE's codes see the motion only
through a reconstruction loss and a 16-code bottleneck, so their probe R^2 (lam_disentangle.py)
cannot be expected to beat this.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("EGOVLA_TRACKING", "off")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from results import save

from egovla import lam
from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.ingest.store import Corpus
from egovla.lam.data import Augmentation, Transitions, split_episodes
from egovla.lam.evaluate import r2
from egovla.lam.model import LatentActionModel
from egovla.lam.stage import true_displacements
from egovla.synth import SynthConfig
from egovla.synth import run as synth


def transitions(corpus: Corpus, episodes: list[int], cfg, gap: int) -> tuple[Transitions, np.ndarray]:
    """Every transition of generated clips, and its true displacement."""
    grid = cfg.image_size // cfg.patch_size
    data = Transitions(corpus.root, episodes, cfg.image_size, gap, grid, use_masks=False)
    _, shifts, _ = true_displacements(corpus, data, gap)  # every clip here is generated: all rows
    return data, shifts.astype(np.float32)


def fit(
    model_cfg,
    train: tuple[Transitions, np.ndarray],
    held: tuple[Transitions, np.ndarray],
    steps: int,
    lr: float,
    augment: bool,
) -> tuple[float, float]:
    torch.manual_seed(0)
    model = LatentActionModel(model_cfg)
    head = torch.nn.Linear(model_cfg.model_dim * model_cfg.action_tokens, 2)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=lr)
    scale = train[1].std(0)

    def predict(data: Transitions, rows: np.ndarray, aug: Augmentation | None = None) -> torch.Tensor:
        frames_t, frames_tk, _ = data.batch(rows)
        if aug is not None:
            frames_t, frames_tk = aug.images(frames_t), aug.images(frames_tk)
        queries = model.encode_pair(model.features(frames_t), model.features(frames_tk))
        return head(queries[:, : model_cfg.action_tokens].flatten(1))

    for step in range(steps):
        rng = np.random.default_rng(step)
        rows = rng.integers(0, len(train[0]), 32)
        aug = Augmentation.draw(rng) if augment else None
        target = train[1][rows] / scale
        target = aug.displacement(target) if aug else target
        loss = (predict(train[0], rows, aug) - torch.from_numpy(np.ascontiguousarray(target))).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        scores = []
        for data, y in (train, held):
            pred = np.concatenate(
                [predict(data, np.arange(i, min(i + 128, len(data)))).numpy() for i in range(0, len(data), 128)]
            )
            scores.append(r2(y, pred * scale))
    return scores[0], scores[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=1e-3)
    config = lam.LAMConfig()
    parser.add_argument("--gaps", type=int, nargs="+", default=[config.train.frame_gap], help="frame gaps k")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        synth(SynthConfig(clips=args.clips, seed=7), Path(tmp) / "scenes")
        ingest(IngestConfig(), [str(Path(tmp) / "scenes")], Path(tmp) / "corpus")
        corpus = Corpus(Path(tmp) / "corpus")
        train_eps, held_eps = split_episodes(corpus.episode_indices(), 0.25, 0)
        print(
            f"{args.clips} generated clips ({len(train_eps)} train / {len(held_eps)} held-out episodes), "
            f"tiny encoder + linear head trained on true displacement, {args.steps} steps, lr {args.lr}"
        )
        rows = []
        for gap in args.gaps:
            train, held = (transitions(corpus, e, config.model, gap) for e in (train_eps, held_eps))
            for augment in (False, True):
                own, other = fit(config.model, train, held, args.steps, args.lr, augment)
                rows.append({"gap": gap, "augment": augment, "r2_train": own, "r2_held_out": other})
                print(
                    f"  k={gap}, augmentation {'on ' if augment else 'off'}: R2 on training episodes {own:+.3f}, "
                    f"held-out {other:+.3f}",
                    flush=True,
                )
    save("lam_encoder_ceiling", {"clips": args.clips, "steps": args.steps, "lr": args.lr}, {"fits": rows})


if __name__ == "__main__":
    main()

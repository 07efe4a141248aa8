"""The training loop: deterministic for a seed, resumable from its last checkpoint."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from egovla.lam import checkpoint
from egovla.lam.config import ModelConfig, TrainConfig
from egovla.lam.data import Transitions, augment
from egovla.lam.features import PixelPatches
from egovla.lam.model import LatentActionModel

log = logging.getLogger(__name__)


def train(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    data: Transitions,
    out_dir: Path,
    stop_after: int | None = None,
    on_log: Callable[[dict, int], None] | None = None,
) -> tuple[LatentActionModel, list[dict], float]:
    """Trains to ``train_cfg.steps`` (resuming if checkpoints exist); returns model, history, samples/s.

    ``stop_after`` ends the run early at that step (tests use it to simulate an interruption);
    ``on_log(losses, step)`` receives each logged step's losses while the loop runs.
    """
    torch.manual_seed(train_cfg.seed)
    model = LatentActionModel(model_cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
    folder = out_dir / "checkpoints"
    start, history = checkpoint.load_latest(folder, model, optimizer)
    if start:
        log.info("resuming from step %d", start)
    end = min(train_cfg.steps, stop_after) if stop_after else train_cfg.steps
    # a pretrained encoder costs more than the LAM itself: each frame goes through it once
    cached = not isinstance(model.features, PixelPatches)
    if cached and not data.tokens:
        data.cache_tokens(model.features)
    model.train()
    samples, seconds = 0, 0.0
    for step in tqdm(range(start, end), desc="lam", disable=not sys.stderr.isatty(), leave=False):
        rng = np.random.default_rng([train_cfg.seed, step])
        frames_t, frames_tk, fg = data.batch(rng.integers(0, len(data), train_cfg.batch_size))
        if train_cfg.augment:
            frames_t, frames_tk, fg = augment(frames_t, frames_tk, fg, rng, tokens=cached)
        tic = time.perf_counter()
        out = model(frames_t, frames_tk, fg if train_cfg.use_masks else None, cached=cached)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        seconds += time.perf_counter() - tic
        samples += len(frames_t)
        if step % 10 == 0 or step + 1 == end:
            losses = {k: float(v.detach()) for k, v in out.items() if k.startswith("loss")}
            history.append({"step": step, **losses})
            if on_log is not None:
                on_log(losses, step)
        if (step + 1) % train_cfg.checkpoint_every == 0 or step + 1 == end:
            checkpoint.save(folder, step + 1, model, optimizer, history)
    return model.eval(), history, samples / seconds if seconds else 0.0

"""The adaptation loop: only the projections and the action expert train, on cached frozen features."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from egovla.policy.config import TrainConfig
from egovla.policy.expert import ActionExpert
from egovla.policy.features import RobotFrames


@dataclass
class Inputs:
    """Everything the expert reads, per frame, normalised."""

    frames: RobotFrames
    states: torch.Tensor  # (N, S)
    actions: np.ndarray  # (N, A)
    perception: torch.Tensor | None  # (N, Tp, Wp), fp16 in the cache
    intent: torch.Tensor | None  # (N, Ti, Wi)

    def batch(self, index: np.ndarray, chunk: int) -> tuple[dict, torch.Tensor, torch.Tensor]:
        steps = index[:, None] + np.arange(chunk)[None]
        end = self.frames.episode_end[index][:, None]
        target = torch.from_numpy(self.actions[np.minimum(steps, end)])
        valid = torch.from_numpy(steps <= end)
        t = torch.from_numpy(index)
        inputs = {"state": self.states[t]}
        if self.perception is not None:
            inputs["perception"] = self.perception[t].float()
        if self.intent is not None:
            inputs["intent"] = self.intent[t]
        else:
            inputs["task"] = torch.from_numpy(self.frames.task_index[index])
        return inputs, target, valid


def train(
    expert: ActionExpert,
    data: Inputs,
    cfg: TrainConfig,
    log_step: Callable[[dict, int], None] | None = None,
    log_every: int = 50,
) -> tuple[list[float], float]:
    """Returns the loss per step and the training samples per second."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    params = [p for p in expert.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, cfg.warmup_steps)
    # linear warmup, then cosine decay to a tenth: the last steps refine rather than jump
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * (0.55 + 0.45 * np.cos(np.pi * min(1.0, s / max(1, cfg.steps)))),
    )
    expert.train()
    history, started = [], time.perf_counter()
    for step in range(cfg.steps):
        index = rng.integers(0, len(data.frames), size=min(cfg.batch_size, len(data.frames)))
        inputs, target, valid = data.batch(index, expert.chunk)
        if cfg.intent_dropout and "intent" in inputs:
            keep = torch.rand(len(index)) >= cfg.intent_dropout
            inputs["intent"] = inputs["intent"] * keep[:, None, None]
        loss = expert.loss(expert.context(**inputs), target, valid)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        history.append(float(loss.detach()))
        if log_step is not None and (step % log_every == 0 or step == cfg.steps - 1):
            log_step({"loss": float(np.mean(history[-log_every:])), "lr": schedule.get_last_lr()[0]}, step)
    expert.eval()
    elapsed = time.perf_counter() - started
    return history, cfg.steps * cfg.batch_size / max(elapsed, 1e-9)

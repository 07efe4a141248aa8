"""Chunk execution: a chunk every ``replan_every`` steps, per-step actions without jerks at the seams.

The same object runs inside in-process evaluation and on the robot-side client, so what a server
returns (raw chunks) is executed exactly as the policy is in-process.
"""

from __future__ import annotations

import numpy as np

from egovla.policy.config import ExecutionConfig


class ChunkExecutor:
    def __init__(self, cfg: ExecutionConfig, chunk: int):
        if not 1 <= cfg.replan_every <= chunk:
            raise ValueError(f"execution.replan_every must be 1..{chunk} (the chunk length), got {cfg.replan_every}")
        self.cfg, self.chunk = cfg, chunk
        self.reset()

    def reset(self) -> None:
        self.step = 0
        self.chunks: list[tuple[int, np.ndarray]] = []  # (first step, chunk (chunk, A)), oldest first

    def needs_chunk(self) -> bool:
        return self.step % self.cfg.replan_every == 0 or not self.chunks

    def add(self, chunk: np.ndarray) -> None:
        self.chunks.append((self.step, np.asarray(chunk, np.float32)))
        self.chunks = [(s, c) for s, c in self.chunks if s + self.chunk > self.step]

    def next_action(self) -> np.ndarray:
        """The action for the current step; advances one step."""
        if not self.chunks:
            raise RuntimeError("no chunk to execute: call add() when needs_chunk() says so")
        t = self.step
        live = [(s, c) for s, c in self.chunks if s <= t < s + self.chunk]
        start, newest = live[-1]
        if self.cfg.mode == "ensemble" and len(live) > 1:
            weights = np.exp(-self.cfg.decay * np.arange(len(live)))
            action = sum(w * c[t - s] for w, (s, c) in zip(weights, live)) / weights.sum()
        elif self.cfg.mode == "blend" and len(live) > 1:
            previous_start, previous = live[-2]
            alpha = (t - start + 1) / (self.cfg.replan_every + 1)
            action = (
                (1 - alpha) * previous[t - previous_start] + alpha * newest[t - start]
                if alpha < 1
                else newest[t - start]
            )
        else:
            action = newest[t - start]
        self.step += 1
        return np.asarray(action, np.float32)

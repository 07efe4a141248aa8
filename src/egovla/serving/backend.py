"""What the Triton model does with a batch of requests, without Triton: check each request, run the
policy once on every good one together, and answer each with its chunk or its own error (one robot's
bad request never fails the others in its batch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from egovla.policy.policy import TASK_KEY, Policy


@dataclass
class Signature:
    """The policy's inputs and output as LeRobot feature keys, shapes (without batch) and dtypes."""

    image_key: str
    image_shape: tuple[int, int, int]
    state_key: str
    state_dim: int
    action_key: str
    chunk: int
    action_dim: int
    tasks: list[str]

    @classmethod
    def of(cls, policy: Policy) -> Signature:
        cfg, meta = policy.cfg, policy.meta
        return cls(
            cfg.camera_key,
            tuple(meta["image_shape"]),
            cfg.state_key,
            int(meta["state_dim"]),
            cfg.action_key,
            cfg.chunk,
            int(meta["action_dim"]),
            list(meta["tasks"]),
        )


def check(signature: Signature, request: dict[str, np.ndarray]) -> str | None:
    """The reason a request cannot be served, or None. Shapes and dtypes are Triton's to enforce too;
    they are checked here as well so the library gives the same answers in-process."""
    for key in (signature.image_key, signature.state_key, TASK_KEY):
        if key not in request:
            return f"missing input {key!r}"
    image, state = request[signature.image_key], request[signature.state_key]
    if image.dtype != np.uint8:
        return f"{signature.image_key}: dtype {image.dtype}, expected uint8"
    if image.shape[1:] != signature.image_shape:
        return f"{signature.image_key}: shape {list(image.shape[1:])}, expected {list(signature.image_shape)}"
    if state.dtype != np.float32 or state.shape[1:] != (signature.state_dim,):
        return f"{signature.state_key}: {state.dtype} {list(state.shape[1:])}, expected float32 [{signature.state_dim}]"
    if not np.isfinite(state).all():
        return f"{signature.state_key}: NaN or Inf"
    if len(image) != len(state) or len(request[TASK_KEY]) != len(state):
        return "inputs disagree on the batch size"
    unknown = sorted({t for t in decode_tasks(request[TASK_KEY])} - set(signature.tasks))
    if unknown:
        return f"task {unknown[0]!r} is not one this policy was trained on"
    return None


def decode_tasks(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values, dtype=object).reshape(-1)]


class PolicyBackend:
    def __init__(self, policy_dir: str | Path, threads: int | None = None):
        if threads is not None:
            torch.set_num_threads(threads)
        self.policy = Policy.from_pretrained(policy_dir)
        self.signature = Signature.of(self.policy)

    def run(self, requests: list[dict[str, np.ndarray]]) -> list[np.ndarray | str]:
        """One answer per request: its (B, chunk, A) float32 chunk, or the reason it was refused."""
        answers: list[Any] = [check(self.signature, r) for r in requests]
        good = [i for i, a in enumerate(answers) if a is None]
        if not good:
            return answers
        s = self.signature
        obs = {
            s.image_key: np.concatenate([requests[i][s.image_key] for i in good]),
            s.state_key: np.concatenate([requests[i][s.state_key] for i in good]),
            TASK_KEY: [t for i in good for t in decode_tasks(requests[i][TASK_KEY])],
        }
        chunks = self.policy.infer(obs)[s.action_key].astype(np.float32)
        start = 0
        for i in good:
            size = len(requests[i][s.state_key])
            answers[i] = chunks[start : start + size]
            start += size
        return answers

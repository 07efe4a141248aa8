"""The policy every caller uses: eval, the Triton model, the tests.

    policy = Policy.from_pretrained(folder)      # an `egovla adapt` run folder or its policy/ folder
    policy.reset()                               # a new episode
    policy.infer(obs) -> {"action": chunk}       # obs: LeRobot keys + "task"; batched or not
    policy.act(obs) -> action                    # one step, chunks executed with ensembling/blending

A checkpoint is self-contained:

    config.json            PolicyConfig + what training fixed (tasks, dims, token counts)
    model.safetensors      the trainable parts: projections and action expert
    perception.safetensors the frozen perception encoder's weights
    stats.json             state and action normalisation (mean, std)
    vlm/                   the frozen VLM (save_pretrained folder), when intent comes from it
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from egovla.io.atomic import atomic_write_json
from egovla.io.models import find_model_dir
from egovla.policy.config import PolicyConfig
from egovla.policy.execution import ChunkExecutor
from egovla.policy.expert import ActionExpert
from egovla.policy.intent import Intent
from egovla.policy.perception import Perception

TASK_KEY = "task"


def _load_into(module: torch.nn.Module, path: Path) -> None:
    try:
        module.load_state_dict(_load_weights(path))
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not match the policy config ({err})") from err


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing weight file of the policy checkpoint")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path}: corrupt weight file ({err})") from err


def policy_folder(path: str | Path) -> Path:
    """A policy checkpoint folder, or the `egovla adapt` run folder holding it as ``policy/``."""
    return find_model_dir(path, ("model.safetensors",), "policy", "policy", "egovla adapt")


class Normalizer:
    def __init__(self, stats: dict[str, dict[str, list[float]]]):
        self.stats = stats
        self.mean = {k: np.asarray(v["mean"], np.float32) for k, v in stats.items()}
        self.std = {k: np.maximum(np.asarray(v["std"], np.float32), 1e-3) for k, v in stats.items()}

    @staticmethod
    def channel_stats(tokens: torch.Tensor, rows: int = 4096) -> dict[str, list[float]]:
        """Per-channel mean and std of cached tokens (N, T, C), accumulated in float64 over row blocks."""
        total = torch.zeros(tokens.shape[-1], dtype=torch.float64)
        squares = torch.zeros_like(total)
        for s in range(0, len(tokens), rows):
            block = tokens[s : s + rows].double().reshape(-1, tokens.shape[-1])
            total += block.sum(0)
            squares += (block * block).sum(0)
        count = tokens.shape[0] * tokens.shape[1]
        mean = total / count
        std = (squares / count - mean * mean).clamp(min=0).sqrt()
        return {"mean": mean.tolist(), "std": std.tolist()}

    def normalize(self, key: str, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float32) - self.mean[key]) / self.std[key]

    def unnormalize(self, key: str, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float32) * self.std[key] + self.mean[key]

    def features(self, key: str, x: torch.Tensor) -> torch.Tensor:
        """Frozen-encoder tokens (..., C), standardised per channel with the training set's statistics."""
        mean, std = torch.from_numpy(self.mean[key]), torch.from_numpy(self.std[key])
        return ((x.float() - mean) / std).to(x.dtype)


class Policy:
    def __init__(
        self,
        cfg: PolicyConfig,
        meta: dict[str, Any],
        expert: ActionExpert,
        normalizer: Normalizer,
        perception: Perception | None,
        intent: Intent | None,
    ):
        self.cfg, self.meta = cfg, meta
        self.expert, self.normalizer = expert.eval(), normalizer
        self.perception, self.intent = perception, intent
        self.tasks: list[str] = list(meta["tasks"])
        self.executor = ChunkExecutor(cfg.execution, cfg.chunk)

    # ----- the interface ------------------------------------------------------------------------
    def reset(self) -> None:
        self.executor.reset()

    def infer(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        """``obs[camera_key]`` uint8 (H, W, 3) or (B, H, W, 3); ``obs[state_key]`` (S,) or (B, S);
        ``obs["task"]`` a string or B strings. Returns the action chunk, (chunk, A) or (B, chunk, A)."""
        image = np.asarray(obs[self.cfg.camera_key])
        single = image.ndim == 3
        images = image[None] if single else image
        states = np.asarray(obs[self.cfg.state_key], np.float32).reshape(len(images), -1)
        tasks = obs.get(TASK_KEY, "")
        tasks = [tasks] * len(images) if isinstance(tasks, str) else [str(t) for t in tasks]
        with torch.no_grad():
            context = self.context(images, states, tasks)
            chunk = self.expert.sample(context).numpy()
        actions = self.normalizer.unnormalize(self.cfg.action_key, chunk)
        return {self.cfg.action_key: actions[0] if single else actions}

    def act(self, obs: dict[str, Any]) -> np.ndarray:
        if self.executor.needs_chunk():
            self.executor.add(self.infer(obs)[self.cfg.action_key])
        return self.executor.next_action()

    # ----- the pieces ---------------------------------------------------------------------------
    def task_indices(self, tasks: list[str]) -> torch.Tensor:
        unknown = sorted(set(tasks) - set(self.tasks))
        if unknown:
            raise ValueError(f"task {unknown[0]!r} is not one this policy was trained on: {self.tasks}")
        return torch.tensor([self.tasks.index(t) for t in tasks])

    def context(self, images: np.ndarray, states: np.ndarray, tasks: list[str]) -> torch.Tensor:
        state = torch.from_numpy(self.normalizer.normalize(self.cfg.state_key, states))
        perception = None
        if self.perception is not None:
            perception = self.normalizer.features("perception", self.perception(images))
        if self.intent is not None:
            intent = self.normalizer.features("intent", self.intent.states(images, tasks))
            return self.expert.context(state, intent=intent, perception=perception)
        return self.expert.context(state, perception=perception, task=self.task_indices(tasks))

    # ----- checkpoints --------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "config.json", {"policy": self.cfg.model_dump(mode="json"), **self.meta})
        atomic_write_json(folder / "stats.json", self.normalizer.stats)
        save_file({k: v.contiguous() for k, v in self.expert.state_dict().items()}, folder / "model.safetensors")
        if self.perception is not None:
            save_file(
                {k: v.contiguous() for k, v in self.perception.net.state_dict().items()},
                folder / "perception.safetensors",
            )
        if self.intent is not None:
            self.intent.save(folder / "vlm")

    @classmethod
    def from_pretrained(cls, path: str | Path) -> Policy:
        folder = policy_folder(path)
        doc = json.loads((folder / "config.json").read_text())
        cfg = PolicyConfig.model_validate(doc.pop("policy"))
        meta = doc
        perception = None
        if cfg.perception.enabled:
            perception = Perception(cfg.perception)
            _load_into(perception.net, folder / "perception.safetensors")
            perception.eval()
        intent = None
        if cfg.intent.source == "vlm":
            if not (folder / "vlm" / "model.safetensors").is_file():
                raise FileNotFoundError(
                    f"{folder / 'vlm' / 'model.safetensors'}: missing weight file of the policy's VLM"
                )
            intent = Intent.load(folder / "vlm", cfg.intent.prompt, meta["intent_tokens"])
        expert = build_expert(cfg, meta)
        _load_into(expert, folder / "model.safetensors")
        normalizer = Normalizer(json.loads((folder / "stats.json").read_text()))
        return cls(cfg, meta, expert, normalizer, perception, intent)


def build_expert(cfg: PolicyConfig, meta: dict[str, Any]) -> ActionExpert:
    return ActionExpert(
        cfg.expert,
        cfg.chunk,
        action_dim=meta["action_dim"],
        state_dim=meta["state_dim"],
        intent_width=meta.get("intent_width"),
        intent_tokens=meta.get("intent_tokens", 0),
        perception_width=meta.get("perception_width"),
        perception_tokens=meta.get("perception_tokens", 0),
        tasks=len(meta["tasks"]),
    )

"""Training checkpoints in safetensors (model, optimizer, RNG) + JSON; nothing is unpickled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from egovla.io.atomic import atomic_dir, atomic_write_json


def save(folder: Path, step: int, model, optimizer: torch.optim.Optimizer, history: list[dict], keep: int = 2) -> Path:
    target = folder / f"step_{step:07d}"
    with atomic_dir(target) as tmp:
        save_file(model.trainable_state(), str(tmp / "model.safetensors"))
        state = optimizer.state_dict()
        tensors = {f"{i}.{k}": v.contiguous() for i, s in state["state"].items() for k, v in s.items()}
        tensors["torch_rng"] = torch.get_rng_state()
        save_file(tensors, str(tmp / "trainer.safetensors"))
        (tmp / "trainer.json").write_text(
            json.dumps({"step": step, "param_groups": state["param_groups"], "history": history})
        )
    atomic_write_json(folder / "latest.json", {"step": step, "path": target.name})
    for old in sorted(folder.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_latest(folder: Path, model, optimizer: torch.optim.Optimizer) -> tuple[int, list[dict]]:
    """Restores the newest checkpoint; returns (step, history), or (0, []) when there is none."""
    pointer = folder / "latest.json"
    if not pointer.exists():
        return 0, []
    target = folder / json.loads(pointer.read_text())["path"]
    model.load_state_dict(load_file(str(target / "model.safetensors")), strict=False)
    meta = json.loads((target / "trainer.json").read_text())
    tensors = load_file(str(target / "trainer.safetensors"))
    torch.set_rng_state(tensors.pop("torch_rng"))
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["step"]), meta["history"]

"""A Triton model repository for a policy: ``<repo>/<model>/config.pbtxt`` rendered from the policy's
config, and ``<repo>/<model>/<version>/`` holding model.py and the checkpoint (``policy/``).

The version folder is the registry version number, so the server's versions are the registry's.
"""

from __future__ import annotations

import shutil
import site
from pathlib import Path

import egovla
from egovla.io.atomic import atomic_dir, atomic_write_json, atomic_write_text
from egovla.policy.policy import TASK_KEY, Policy, policy_folder
from egovla.serving.backend import Signature
from egovla.serving.config import ServingConfig

MODEL_FILE = Path(__file__).with_name("triton_model.py")


def render_config(config: ServingConfig, signature: Signature) -> str:
    s = signature
    inputs = [
        (s.image_key, "TYPE_UINT8", list(s.image_shape)),
        (s.state_key, "TYPE_FP32", [s.state_dim]),
        (TASK_KEY, "TYPE_STRING", [1]),
    ]
    lines = [f'name: "{config.model_name}"', 'backend: "python"', f"max_batch_size: {config.max_batch_size}"]
    for name, dtype, dims in inputs:
        lines.append(f'input [{{ name: "{name}" data_type: {dtype} dims: {dims} }}]')
    lines.append(f'output [{{ name: "{s.action_key}" data_type: TYPE_FP32 dims: [{s.chunk}, {s.action_dim}] }}]')
    if config.dynamic_batching:
        lines.append(f"dynamic_batching {{ max_queue_delay_microseconds: {config.max_queue_delay_us} }}")
    kind = "KIND_GPU" if config.instance_kind == "gpu" else "KIND_CPU"
    lines.append(f"instance_group [{{ count: {config.instances} kind: {kind} }}]")
    lines.append(f'parameters: {{ key: "torch_threads" value: {{ string_value: "{config.torch_threads}" }} }}')
    # every version in the folder can be served: a hot swap loads the new one before the old one goes
    lines.append("version_policy: { all: {} }")
    return "\n".join(lines) + "\n"


def environment_paths() -> dict[str, str]:
    """Where the model's stub finds this environment: its site-packages, and the folder egovla is
    imported from (an editable checkout is not inside site-packages)."""
    site_packages = next(p for p in site.getsitepackages() if p.endswith("site-packages"))
    return {"site_packages": site_packages, "egovla_root": str(Path(egovla.__file__).parents[1])}


def export(config: ServingConfig, policy_dir: str | Path, repo: str | Path, version: int) -> Path:
    """Writes (or replaces) one version of the model; returns its folder."""
    source = policy_folder(policy_dir)
    signature = Signature.of(Policy.from_pretrained(source))
    model_dir = Path(repo) / config.model_name
    target = model_dir / str(version)
    with atomic_dir(target) as tmp:
        shutil.copytree(source, tmp / "policy")
        shutil.copy2(MODEL_FILE, tmp / "model.py")
        atomic_write_json(tmp / "paths.json", environment_paths())
    atomic_write_text(model_dir / "config.pbtxt", render_config(config, signature))
    return target

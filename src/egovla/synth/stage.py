"""Stage: write generated scenes as mp4 clips ready for `egovla ingest`, ground truth beside them.

For each clip ``scene_NNNN.mp4`` the folder holds ``scene_NNNN.json`` (kind, seeds, task text;
read by ingest as the clip's sidecar) and ``scene_NNNN.gt.npz`` (bit-packed masks, actions, camera).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egovla import tracking
from egovla.config import StageConfig
from egovla.io.atomic import atomic_dir, atomic_write_json
from egovla.synth.scene import KINDS, SceneSpec, render
from egovla.video import encode_mp4


class SynthConfig(StageConfig):
    clips: int = 10
    frames: int = 40
    size: int = 128
    fps: int = 10
    seed: int = 0
    kinds: tuple[str, ...] = KINDS


@dataclass(frozen=True)
class GroundTruth:
    masks: np.ndarray  # (T, H, W) bool
    actions: np.ndarray  # (T, 3): dx, dy (world px to next frame), grasp
    camera: np.ndarray  # (T, 3)
    kind: str
    task: str


def specs(config: SynthConfig) -> list[SceneSpec]:
    """Clip i: kind cycles through ``kinds``; motion and background seeds derive from the run seed."""
    seeds = np.random.default_rng(config.seed).integers(0, 2**31 - 1, size=(config.clips, 2))
    return [SceneSpec(kind=config.kinds[i % len(config.kinds)], motion_seed=int(m), background_seed=int(b),
                      frames=config.frames, size=config.size) for i, (m, b) in enumerate(seeds)]


def write_scene(folder: Path, name: str, spec: SceneSpec, fps: int) -> dict:
    scene = render(spec)
    encode_mp4(folder / f"{name}.mp4", scene.frames, fps=fps)
    np.savez_compressed(folder / f"{name}.gt.npz", masks=np.packbits(scene.masks, axis=-1),
                        mask_shape=np.array(scene.masks.shape), actions=scene.actions, camera=scene.camera)
    meta = {"task": scene.task, "kind": spec.kind, "motion_seed": spec.motion_seed,
            "background_seed": spec.background_seed, "background": scene.background,
            "licence": "generated (Apache-2.0)", "source_tag": "synth",
            "mask_coverage": float(scene.masks.mean())}
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2))
    return meta


def read_ground_truth(clip_path: str | Path) -> GroundTruth:
    """Ground truth of a generated clip, given the clip's path (or its source uri in a manifest)."""
    clip = Path(clip_path)
    with np.load(clip.with_suffix(".gt.npz"), allow_pickle=False) as data:
        shape = tuple(int(v) for v in data["mask_shape"])
        masks = np.unpackbits(data["masks"], axis=-1, count=shape[-1]).astype(bool).reshape(shape)
        actions, camera = data["actions"], data["camera"]
    meta = json.loads(clip.with_suffix(".json").read_text())
    return GroundTruth(masks=masks, actions=actions, camera=camera, kind=meta["kind"], task=meta["task"])


def run(config: SynthConfig, out_dir: str | Path) -> dict:
    out = Path(out_dir)
    kinds: dict[str, int] = {}
    coverage = []
    with atomic_dir(out) as tmp:
        for i, spec in enumerate(specs(config)):
            meta = write_scene(tmp, f"scene_{i:04d}", spec, config.fps)
            kinds[spec.kind] = kinds.get(spec.kind, 0) + 1
            coverage.append(meta["mask_coverage"])
        config.save(tmp / "config.json")
        metrics = {"clips": config.clips, "frames": config.clips * config.frames,
                   "mean_mask_coverage": float(np.mean(coverage)) if coverage else 0.0,
                   **{f"clips_{k}": v for k, v in kinds.items()}}
        atomic_write_json(tmp / "metrics.json", metrics)
    with tracking.stage_run("synth", config.flat()) as run_:
        run_.log_metrics(metrics)
    return metrics

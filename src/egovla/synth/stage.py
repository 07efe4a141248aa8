"""Stage: write generated scenes as mp4 clips ready for `egovla ingest`, ground truth beside them.

For each clip ``scene_NNNN.mp4`` the folder holds ``scene_NNNN.json`` (kind, seeds, task text;
read by ingest as the clip's sidecar) and ``scene_NNNN.gt.npz`` (see ``synth.store``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from egovla import tracking
from egovla.config import StageResult
from egovla.io.atomic import atomic_dir
from egovla.io.video import encode_mp4
from egovla.synth.config import SynthConfig
from egovla.synth.scene import SceneSpec, render
from egovla.synth.store import GroundTruth, write_truth


def specs(config: SynthConfig) -> list[SceneSpec]:
    """Clip i: kind cycles through ``kinds``, actor through ``actors`` (every kind meets every actor);
    motion and background seeds derive from the run seed."""
    seeds = np.random.default_rng(config.seed).integers(0, 2**31 - 1, size=(config.clips, 2))
    return [
        SceneSpec(
            kind=config.kinds[i % len(config.kinds)],
            motion_seed=int(m),
            background_seed=int(b),
            frames=config.frames,
            size=config.size,
            actor=config.actors[(i // len(config.kinds)) % len(config.actors)],
        )
        for i, (m, b) in enumerate(seeds)
    ]


def write_scene(folder: Path, name: str, spec: SceneSpec, fps: int) -> dict:
    scene = render(spec)
    encode_mp4(folder / f"{name}.mp4", scene.frames, fps=fps)
    write_truth(folder / f"{name}.gt.npz", GroundTruth(scene.masks, scene.actions, scene.camera, spec.kind, scene.task))
    meta = {
        "task": scene.task,
        "kind": spec.kind,
        "actor": spec.actor,
        "motion_seed": spec.motion_seed,
        "background_seed": spec.background_seed,
        "background": scene.background,
        "licence": "generated (Apache-2.0)",
        "source_tag": "synth",
        "mask_coverage": float(scene.masks.mean()),
    }
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2))
    return meta


def run(config: SynthConfig, out_dir: str | Path) -> StageResult:
    out = Path(out_dir)
    with tracking.stage("synth", config, out) as stage:
        kinds: dict[str, int] = {}
        coverage = []
        with atomic_dir(out) as tmp:
            for i, spec in enumerate(specs(config)):
                meta = write_scene(tmp, f"scene_{i:04d}", spec, config.fps)
                kinds[spec.kind] = kinds.get(spec.kind, 0) + 1
                coverage.append(meta["mask_coverage"])
        metrics = {
            "clips": config.clips,
            "frames": config.clips * config.frames,
            "mean_mask_coverage": float(np.mean(coverage)) if coverage else 0.0,
            **{f"clips_{k}": v for k, v in kinds.items()},
        }
        return stage.finish(metrics)

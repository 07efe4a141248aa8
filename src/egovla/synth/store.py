"""Ground truth of generated scenes: per-frame actor masks, true actor displacement, camera motion.

Beside each clip ``scene_NNNN.mp4`` lies ``scene_NNNN.gt.npz`` (bit-packed masks, actions, camera, kind,
task). Ingest copies it into the corpus keyed by episode and resampled to the episode's frames, so the
truth travels with the corpus (a pod, an ``s3://`` source, a ``dvc pull`` elsewhere) and never depends
on the source path still existing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egovla.io.atomic import atomic_path

SUFFIX = ".gt.npz"


@dataclass(frozen=True)
class GroundTruth:
    masks: np.ndarray  # (T, H, W) bool
    actions: np.ndarray  # (T, 3): dx, dy (world px to next frame), grasp
    camera: np.ndarray  # (T, 3)
    kind: str
    task: str

    def resampled(self, source_index: np.ndarray) -> GroundTruth:
        """The truth at the episode's frames (``source_index``: the source frame of each episode frame).
        Displacements are summed over the source frames between consecutive episode frames."""
        cum = np.r_[np.zeros((1, 2)), np.cumsum(self.actions[:, :2], 0)]
        nxt = np.r_[source_index[1:], min(source_index[-1] + 1, len(self.actions))]
        actions = np.c_[cum[nxt] - cum[source_index], self.actions[source_index, 2]].astype(np.float32)
        return GroundTruth(self.masks[source_index], actions, self.camera[source_index], self.kind, self.task)


def truth_path(clip_path: str | Path) -> Path:
    return Path(clip_path).with_suffix(SUFFIX)


def write_truth(path: Path, truth: GroundTruth) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            masks=np.packbits(truth.masks, axis=-1),
            mask_shape=np.array(truth.masks.shape),
            actions=truth.actions,
            camera=truth.camera,
            kind=np.array(truth.kind),
            task=np.array(truth.task),
        )


def read_truth(path: str | Path) -> GroundTruth:
    with np.load(path, allow_pickle=False) as data:
        shape = tuple(int(v) for v in data["mask_shape"])
        masks = np.unpackbits(data["masks"], axis=-1, count=shape[-1]).astype(bool).reshape(shape)
        return GroundTruth(
            masks=masks, actions=data["actions"], camera=data["camera"], kind=str(data["kind"]), task=str(data["task"])
        )

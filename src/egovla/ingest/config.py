"""Footage ingest config and presets."""

from __future__ import annotations

from egovla.config import StageConfig
from egovla.ingest.footage import ClipLimits

DEFAULT_TASK = "manipulate the objects in view"


class IngestConfig(StageConfig):
    SECTION = "ingest"
    # "paper": the frame size DINOv2 ViT-B/14 reads in the paper's LAM
    PRESETS = {"tiny": {}, "paper": {"size": 224}}

    fps: int = 10
    size: int = 128
    source_tag: str = "unknown"
    licence: str = "unknown"
    task: str = DEFAULT_TASK  # used when a clip has no sidecar task text
    s3_endpoint: str | None = None
    # A corpus folder kept between pipeline runs (a volume on the cluster): ingest adds only the new
    # clips to it, and the run's corpus artifact is a snapshot of it (``ingest.store.snapshot``).
    persist: str | None = None
    max_side: int = 8192
    min_source_frames: int = 8
    min_episode_frames: int = 4
    vfr_tolerance: float = 0.10
    vfr_max_irregular: float = 0.05

    def limits(self) -> ClipLimits:
        return ClipLimits(
            max_side=self.max_side,
            min_source_frames=self.min_source_frames,
            min_episode_frames=self.min_episode_frames,
            vfr_tolerance=self.vfr_tolerance,
            vfr_max_irregular=self.vfr_max_irregular,
        )

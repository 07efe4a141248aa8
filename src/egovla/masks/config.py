"""Physical-mask config: the backend and its parameters."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field

from egovla.config import StageConfig
from egovla.masks.motion import MotionParams


class MaskConfig(StageConfig):
    SECTION = "masks"

    backend: Literal["motion", "sam2"] = "motion"
    motion: MotionParams = MotionParams()
    sam2_model: str | None = None  # local folder or s3:// prefix of a Sam2VideoModel
    s3_endpoint: str | None = None
    workers: int = 1  # processes over episodes (motion backend)
    shards: int = Field(1, ge=1)  # pods a pipeline fans the episodes out over (``run(..., shard=i)``)
    contact_sheets: bool = True
    contact_sheet_frames: int = 8
    evaluate: bool = True  # IoU against ground truth where a clip has it (generated scenes)

    def mask_hash(self) -> str:
        """Identity of the settings that change the masks; resume skips episodes that match it."""
        relevant = {
            "backend": self.backend,
            "motion": self.motion.model_dump(mode="json"),
            "sam2_model": self.sam2_model,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

"""Physical masks: per-frame masks of what the actor moves, separated from ego-motion and background."""

from egovla.masks.config import MaskConfig
from egovla.masks.motion import MotionParams, motion_masks
from egovla.masks.stage import collect_shards, run
from egovla.masks.store import read_masks, resolve_masks_dir

__all__ = ["MaskConfig", "collect_shards", "MotionParams", "motion_masks", "read_masks", "resolve_masks_dir", "run"]

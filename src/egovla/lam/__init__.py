"""The latent action model: a hybrid disentangled VQ-VAE learned from video alone."""

from egovla.lam.config import LabelConfig, LAMConfig, ModelConfig, TrainConfig
from egovla.lam.model import LatentActionModel
from egovla.lam.stage import run_label, run_train
from egovla.lam.store import label_info, read_codes

__all__ = [
    "LAMConfig",
    "LabelConfig",
    "LatentActionModel",
    "ModelConfig",
    "TrainConfig",
    "label_info",
    "read_codes",
    "run_label",
    "run_train",
]

"""The latent action model: a hybrid disentangled VQ-VAE learned from video alone."""

from egovla.lam.config import LAMConfig, ModelConfig, TrainConfig, preset
from egovla.lam.model import LatentActionModel
from egovla.lam.stage import read_codes, run_label, run_train

__all__ = ["LAMConfig", "LatentActionModel", "ModelConfig", "TrainConfig", "preset", "read_codes", "run_label",
           "run_train"]

"""VLM latent-action pretraining: frame + instruction -> the latent action the LAM assigned."""

from egovla.vlm.backbone import Backbone, load_backbone
from egovla.vlm.config import BackboneConfig, VLMConfig
from egovla.vlm.stage import run_backbone, run_pretrain
from egovla.vlm.tiny import build_tiny_llava

__all__ = [
    "Backbone",
    "BackboneConfig",
    "VLMConfig",
    "build_tiny_llava",
    "load_backbone",
    "run_backbone",
    "run_pretrain",
]

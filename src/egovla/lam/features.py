"""Frozen visual features per frame: patch tokens (B, N, D).

`pixels` patchifies normalised frames (no weights; what CPU-scale runs use). Anything else is a
Hugging Face vision model (DINOv2 in the paper) loaded from a local folder or s3:// prefix, frozen.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PixelPatches(nn.Module):
    def __init__(self, image_size: int, patch_size: int):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.dim = 3 * patch_size * patch_size

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 3, H, W) in [0, 1] -> (B, N, 3*p*p), each patch standardised."""
        p = self.patch_size
        patches = images.unfold(2, p, p).unfold(3, p, p)  # B, 3, g, g, p, p
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(images.shape[0], self.grid * self.grid, -1)
        return (patches - 0.5) / 0.25


class HFVisionFeatures(nn.Module):
    def __init__(self, model_dir: str):
        super().__init__()
        from transformers import AutoModel

        self.backbone = AutoModel.from_pretrained(model_dir).eval().requires_grad_(False)
        config = self.backbone.config
        self.dim = int(config.hidden_size)
        self.patch_size = int(config.patch_size)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(pixel_values=(images - self.mean) / self.std).last_hidden_state
        grid = (images.shape[-1] // self.patch_size) ** 2
        tokens = hidden[:, -grid:]  # drop CLS / register tokens, keep the patch grid
        return nn.functional.layer_norm(tokens, tokens.shape[-1:])


def build_features(features: str, image_size: int, patch_size: int) -> nn.Module:
    if features == "pixels":
        return PixelPatches(image_size, patch_size)
    from egovla.io.models import resolve_model_dir

    return HFVisionFeatures(str(resolve_model_dir(features)))

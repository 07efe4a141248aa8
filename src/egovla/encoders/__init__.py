"""Frozen pretrained image encoders (a ground floor: imports no stage)."""

from egovla.encoders.efficientnet import (
    EFFICIENTNET,
    IMAGENET_MEAN,
    IMAGENET_STD,
    EfficientNetTokens,
    imagenet_normalise,
    shipped_efficientnet_weights,
)

__all__ = [
    "EFFICIENTNET",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "EfficientNetTokens",
    "imagenet_normalise",
    "shipped_efficientnet_weights",
]

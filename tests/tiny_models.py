"""Tiny random-init models built from configs, saved with save_pretrained: loaded by the same code
path as real weights, so tests exercise the mechanics (shapes, prompting, saving/loading)."""

from __future__ import annotations

from pathlib import Path


def tiny_sam2_video(out_dir: Path, size: int = 64) -> Path:
    import torch
    from transformers import (
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VideoConfig,
        Sam2VideoModel,
        Sam2VisionConfig,
    )

    torch.manual_seed(0)
    backbone = Sam2HieraDetConfig(
        hidden_size=16,
        num_attention_heads=1,
        image_size=[size, size],
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[16, 32, 64, 128],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        window_size_per_stage=[4, 4, 4, 2],
        global_attention_blocks=[3],
        window_positional_embedding_background_size=[4, 4],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[128, 64, 32, 16],
        backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        fpn_hidden_size=128,
    )
    config = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=Sam2PromptEncoderConfig(hidden_size=128, image_size=size, patch_size=16),
        mask_decoder_config=Sam2MaskDecoderConfig(
            hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=128
        ),
        image_size=size,
        memory_attention_hidden_size=128,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=64,
        num_maskmem=3,
    )
    model = Sam2VideoModel(config).eval()
    model.save_pretrained(out_dir)
    return out_dir


def tiny_dinov2(out_dir: Path, image_size: int = 56) -> Path:
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=image_size,
        patch_size=14,
    )
    Dinov2Model(config).save_pretrained(out_dir)
    return out_dir


def tiny_vlm_with_action_tokens(out_dir: Path, codes: int = 16) -> Path:
    """The tiny LLaVA with its ``<ACT_i>`` tokens added, saved as `vlm pretrain` exports it (random weights)."""
    from egovla.vlm import VLMConfig, build_tiny_llava, load_backbone

    prompt = VLMConfig().prompt
    backbone = load_backbone(str(build_tiny_llava(out_dir / "backbone", prompt)), codes, prompt)
    backbone.model.save_pretrained(out_dir / "model")
    backbone.processor.save_pretrained(out_dir / "model")
    return out_dir / "model"


def tiny_lam(out_dir: Path, frame_gap: int = 2) -> Path:
    """A random-init LAM saved as `lam train` saves its model (with the frame gap it was trained at)."""
    import json

    import torch

    from egovla.lam import LatentActionModel, ModelConfig

    torch.manual_seed(0)
    LatentActionModel(ModelConfig()).save_pretrained(out_dir)
    (out_dir / "training.json").write_text(json.dumps({"frame_gap": frame_gap}))
    return out_dir

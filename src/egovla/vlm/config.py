"""VLM latent-action pretraining config and presets (`tiny` runs every path on a CPU in seconds; `cpu`
learns the `cpu` LAM corpus on 2 cores)."""

from __future__ import annotations

from typing import Literal

from egovla.config import Section, StageConfig


class LoraConfig(Section):
    rank: int = 8
    alpha: int = 16
    # attention projections of the language model; the new action-token rows train in full
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


PROMPT = "What action should the robot take to {instruction}?"


class BackboneConfig(StageConfig):
    """`vlm tiny`: the tiny random-init LLaVA (CLIP + Llama) built here, the CPU-scale backbone."""

    SECTION = "vlm_backbone"

    image_size: int = 64
    prompt: str = PROMPT  # the tokenizer is trained on it, so every prompt word is a whole token
    seed: int = 0


class VLMConfig(StageConfig):
    SECTION = "vlm"
    PRESETS = {
        "tiny": {},
        # The tiny backbone long enough to learn the `cpu` LAM corpus's codes (a few minutes on 2 cores)
        "cpu": {"steps": 2000, "batch_size": 32, "warmup_steps": 100, "checkpoint_every": 500},
        # A SmolVLM / Qwen2.5-VL class backbone on GPU nodes: the backbone uri comes from the caller.
        "base": {
            "steps": 20_000,
            "batch_size": 256,
            "lr": 2e-5,
            "warmup_steps": 500,
            "precision": "bf16",
            "zero_stage": 2,
            "freeze_vision": True,
            "checkpoint_every": 1000,
            "eval_batch_size": 64,
        },
    }

    backbone: str | None = None  # save_pretrained folder or s3:// uri of an image-text-to-text model
    s3_endpoint: str | None = None  # S3-compatible endpoint for an s3:// backbone
    prompt: str = PROMPT
    default_instruction: str = "move the object"  # for footage that carries no task text

    steps: int = 60
    batch_size: int = 8  # global batch: split evenly over the ranks
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0  # linear warmup; the rate is constant after it, so a run can be extended
    zero_stage: Literal[0, 1, 2, 3] = 2
    precision: Literal["fp32", "bf16"] = "fp32"
    freeze_vision: bool = False
    lora: LoraConfig | None = None
    checkpoint_every: int = 20
    seed: int = 0
    eval_fraction: float = 0.25  # episodes held out for the accuracy metrics
    eval_batch_size: int = 32

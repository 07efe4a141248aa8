"""Latent action model configs and presets (`tiny` runs on a CPU in well under two minutes; `cpu` is the
largest that trains in under 20 minutes on 2 cores; `paper` is the paper's DINOv2 scale, for GPUs)."""

from __future__ import annotations

from typing import Literal

from egovla.config import Section, StageConfig


class ModelConfig(Section):
    image_size: int = 64
    # "pixels" (patchified frames), "efficientnet-lite0" (the frozen pretrained encoder's feature
    # map), or a HF vision model folder / s3:// uri
    features: str = "pixels"
    patch_size: int = 8  # pixels: patch side; efficientnet-lite0: the feature stride (8 or 16); HF: its own
    model_dim: int = 64
    enc_layers: int = 2
    dec_layers: int = 2
    heads: int = 4
    # How the encoder sees a pair: "temporal" (the paper: tokens of both frames, t cannot attend to
    # t+k) or "early" (one token per patch holding t and t+k - t; half the tokens, and at CPU scale
    # the only one whose codes followed the actor's motion; see benchmarks/lam_disentangle.py)
    fusion: Literal["temporal", "early"] = "early"
    latent_dim: int = 32
    action_codes: int = 16  # the cross-embodiment action codebook
    action_tokens: int = 4  # codes per transition
    # action codebook: "nsvq" (noise substitution, as LAPA) or "vq" (EMA codebook, straight-through,
    # commitment and dead-code restarts: the reference code); the background codebook is always "vq"
    quantizer: Literal["nsvq", "vq"] = "nsvq"
    background: Literal["vq", "continuous"] = "vq"
    background_codes: int = 16
    background_tokens: int = 4
    commitment: float = 0.25
    ema_decay: float = 0.95
    dead_code_threshold: float = 2.0  # EMA cluster size below which a code is re-seeded
    single_codebook: bool = False  # ablation: one action codebook, no background branch


class TrainConfig(Section):
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    # k: transition (t, t+k). At 64 px with 8 px patches, k = 3 moved the generated actor across two
    # patches and no code followed it; k = 2 reads its motion (benchmarks/lam_disentangle.py --gaps)
    frame_gap: int = 2
    use_masks: bool = True  # masks weight the action/background losses; off = LAPA/UniVLA-style ablation
    # which mask marks a transition's foreground: the target frame's ("target"), or where the actor
    # was or is ("union"; then the action path must also paint the background it uncovers)
    foreground: Literal["target", "union"] = "target"
    augment: bool = True  # random flips/transposes and colour-channel orders, the same for both frames
    checkpoint_every: int = 100
    seed: int = 0
    eval_fraction: float = 0.2  # episodes held out for the probe and reconstruction metrics


class LAMConfig(StageConfig):
    SECTION = "lam"
    PRESETS = {
        "tiny": {},
        # The pretrained feature space at CPU scale: frozen EfficientNet-Lite0 at stride 16 (an 8x8 grid
        # at 128 px; stride 8 lost the probe, benchmarks/lam_disentangle.py), on the `cpu` synth corpus
        "cpu": {
            "model": {"features": "efficientnet-lite0", "patch_size": 16, "image_size": 128},
            "train": {"steps": 3000},
            "robot_episodes": 24,
        },
        "paper": {
            "model": {
                "image_size": 224,
                "features": "dinov2-vitb14",
                "fusion": "temporal",
                "quantizer": "vq",
                "model_dim": 768,
                "enc_layers": 12,
                "dec_layers": 12,
                "heads": 12,
                "latent_dim": 128,
            },
            "train": {"steps": 100_000, "batch_size": 64, "lr": 1e-4, "frame_gap": 9, "checkpoint_every": 1000},
        },
    }

    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    ablation: bool = True  # also train the no-mask single-codebook baseline in the same run
    swap_scenes: int = 15  # generated scene triples for background-swap invariance and motion sensitivity
    robot_episodes: int = 4  # Meta-World scripted rollouts for the cross-embodiment probe (0: skip)
    robot_tasks: tuple[str, ...] = ("reach-v3", "push-v3", "pick-place-v3")
    # Robot steps per probed transition. Meta-World steps at 80 Hz: 16 steps are the 0.2 s that a gap of
    # 2 frames spans in 10 fps human clips. Over 2 steps the position controller has barely moved the
    # hand, and even the true hand displacement hardly predicts the action (benchmarks/lam_robot_ceiling.py)
    robot_span: int = 16


class LabelConfig(StageConfig):
    """`lam label`: every transition of a corpus through a trained LAM."""

    SECTION = "label"

    batch_size: int = 128

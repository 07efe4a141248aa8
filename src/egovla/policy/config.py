"""Robot adaptation config: the policy (intent, perception, proprioception, action expert, chunk
execution) and its training. `tiny` runs every path on a CPU in seconds; `mt10` is the benchmark's."""

from __future__ import annotations

from typing import Literal

from egovla.config import Section, StageConfig
from egovla.vlm.config import PROMPT


class PerceptionConfig(Section):
    enabled: bool = True  # False: the "no decoupling" ablation (the expert sees only the VLM's states)
    # "efficientnet-lite0" (ImageNet weights shipped in a package) or a HF vision model folder
    encoder: str = "efficientnet-lite0"
    # EfficientNet blocks kept: 11 blocks end at stride 16 (an 8x8 grid of 112-d cells at 128 px),
    # fine enough for the goal sites, which are a few pixels wide
    blocks: int = 11
    image_size: int = 128


class IntentConfig(Section):
    # "vlm": the pretrained VLM's hidden states at the latent-action tokens (the paper);
    # "onehot": a learned task embedding instead (behaviour cloning from scratch)
    source: Literal["vlm", "onehot"] = "vlm"
    weights: Literal["pretrained", "random"] = "pretrained"  # random: the "no pretraining" ablation
    prompt: str = PROMPT  # the prompt the VLM was pretrained with
    seed: int = 0  # random weights' seed


class ExpertConfig(Section):
    dim: int = 128
    # self-attention layers over the tokens before pooling; 0 pools the projected tokens directly
    # (MAP alone), several times cheaper per step on a CPU (benchmarks/mt10.py compares)
    layers: int = 0
    heads: int = 4
    dropout: float = 0.1
    # pooling queries shifted by the state and intent (or task); on MT10 it lowered the training loss
    # and success alike (benchmarks/mt10.py), so it is an option
    condition_queries: bool = False
    head: Literal["l1", "flow"] = "l1"  # L1 regression on the chunk, or a flow-matching head
    flow_steps: int = 10  # Euler steps at inference (flow head)


class ExecutionConfig(Section):
    """How chunks become per-step actions; the same code runs in-process and on the robot client."""

    mode: Literal["ensemble", "blend", "latest"] = "ensemble"
    replan_every: int = 4  # a new chunk every n steps
    # ensemble: ACT's exponential weights over the overlapping chunks' predictions for a step,
    # exp(-decay * i), i = 0 for the oldest; blend: the first replan_every steps of a new chunk
    # fade in linearly from the previous chunk
    decay: float = 0.1


class PolicyConfig(Section):
    camera_key: str = "observation.images.corner2"
    state_key: str = "observation.state"
    action_key: str = "action"
    chunk: int = 12
    perception: PerceptionConfig = PerceptionConfig()
    intent: IntentConfig = IntentConfig()
    expert: ExpertConfig = ExpertConfig()
    execution: ExecutionConfig = ExecutionConfig()


class TrainConfig(Section):
    steps: int = 60
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 0
    seed: int = 0
    feature_batch: int = 64  # frames per forward of the frozen encoders while caching
    # share of training samples whose intent is replaced by its mean (zero after standardisation), so
    # the expert cannot lean on frame-to-frame noise in the frozen VLM's states
    intent_dropout: float = 0.5


class AdaptConfig(StageConfig):
    SECTION = "adapt"
    PRESETS = {
        "tiny": {"policy": {"expert": {"dim": 32, "heads": 2}}},
        "mt10": {"train": {"steps": 6000, "batch_size": 128, "lr": 3e-4, "warmup_steps": 200}},
    }

    policy: PolicyConfig = PolicyConfig()
    train: TrainConfig = TrainConfig()

"""Intent: the frozen VLM's last-layer hidden states at the latent-action token positions.

For (camera image, instruction) the VLM answers in latent-action tokens. In training the answer is
teacher-forced with the LAM's codes of the robot's own frames (the cross-embodiment step); at
inference the VLM generates it greedily. Either way one more forward pass over prompt + answer gives
the states the action expert reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from egovla.vlm.backbone import Backbone, load_backbone


class Intent:
    def __init__(self, backbone: Backbone, tokens: int):
        self.backbone = backbone
        self.tokens = tokens
        backbone.model.requires_grad_(False)
        backbone.model.eval()

    @classmethod
    def load(cls, folder: str | Path, prompt: str, tokens: int, random_seed: int | None = None) -> Intent:
        """``random_seed``: the same architecture with fresh random weights (the no-pretraining ablation)."""
        folder = Path(folder)
        codes = action_codes(folder)
        backbone = load_backbone(str(folder), codes, prompt)
        if random_seed is not None:
            from transformers import AutoModelForImageTextToText

            torch.manual_seed(random_seed)
            backbone.model = AutoModelForImageTextToText.from_config(backbone.model.config)
        return cls(backbone, tokens)

    @property
    def width(self) -> int:
        return int(self.backbone.model.config.get_text_config().hidden_size)

    @property
    def codes(self) -> int:
        return len(self.backbone.action_ids)

    def save(self, folder: Path) -> None:
        self.backbone.model.save_pretrained(folder)
        self.backbone.processor.save_pretrained(folder)

    @torch.no_grad()
    def states(self, frames: np.ndarray, instructions: list[str], codes: np.ndarray | None = None) -> torch.Tensor:
        """(B, tokens, hidden) for uint8 frames (B, H, W, 3); ``codes`` None: generated greedily."""
        if codes is None:
            codes = self.backbone.predict(frames, instructions, self.tokens)
        inputs = self.backbone.batch(frames, instructions, codes)
        inputs.pop("labels")
        out = self.backbone.model(**inputs, output_hidden_states=True)
        hidden = out.hidden_states[-1]
        at_actions = torch.isin(inputs["input_ids"], self.backbone.action_ids)
        return hidden[at_actions].view(len(frames), self.tokens, -1).float()


def action_codes(folder: Path) -> int:
    """How many ``<ACT_i>`` tokens the pretrained VLM's tokenizer holds (its latent-action codebook)."""
    from transformers import AutoTokenizer

    vocab = AutoTokenizer.from_pretrained(folder).get_vocab()
    count = sum(1 for token in vocab if token.startswith("<ACT_") and token.endswith(">"))
    if count == 0:
        raise ValueError(f"{folder}: the VLM has no latent-action tokens (run `egovla vlm pretrain` first)")
    return count

"""An image-text-to-text backbone that reads a frame and an instruction and answers in action tokens.

Any Hugging Face model that AutoModelForImageTextToText + AutoProcessor load (LLaVA, PaliGemma and the
like), from a local folder or an s3:// uri. One token per action code, ``<ACT_0>`` .. ``<ACT_{K-1}>``,
is added to the vocabulary; the loss is cross-entropy on those target tokens only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, LogitsProcessor, LogitsProcessorList

from egovla.io.models import find_model_dir, resolve_model_dir
from egovla.io.sources import S3Settings
from egovla.vlm.config import LoraConfig

VISION_PREFIXES = ("vision_tower", "vision_model", "visual", "vision_encoder")
IGNORE = -100


def action_token(code: int) -> str:
    return f"<ACT_{code}>"


class OnlyTokens(LogitsProcessor):
    """Greedy decoding restricted to the action vocabulary: the answer is always a valid code."""

    def __init__(self, token_ids: torch.Tensor):
        self.token_ids = token_ids

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        allowed = torch.full_like(scores, float("-inf"))
        allowed[:, self.token_ids] = 0.0
        return scores + allowed


@dataclass
class Backbone:
    model: torch.nn.Module
    processor: object
    action_ids: torch.Tensor  # token id of <ACT_i> at index i
    prompt: str

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def _text(self, instruction: str) -> str:
        image = getattr(self.processor, "image_token", None)
        if image is None:
            raise ValueError(
                f"{type(self.processor).__name__} has no image_token; this backbone family is not supported"
            )
        return f"{image} {self.prompt.format(instruction=instruction)} "

    def batch(self, frames: np.ndarray, instructions: list[str], codes: np.ndarray | None = None) -> dict:
        """Model inputs for uint8 frames (B, H, W, 3). With ``codes`` (B, tokens): the answer is appended
        and ``labels`` score only the action tokens."""
        texts = [self._text(i) for i in instructions]
        if codes is not None:
            texts = [t + "".join(action_token(int(c)) for c in row) for t, row in zip(texts, codes)]
        self.tokenizer.padding_side = "right" if codes is not None else "left"  # left: generation appends
        inputs = self.processor(images=list(frames), text=texts, return_tensors="pt", padding=True)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)  # bf16 training casts the model
        if codes is not None:
            ids = inputs["input_ids"]
            inputs["labels"] = torch.where(torch.isin(ids, self.action_ids), ids, IGNORE)
        return dict(inputs)

    @torch.no_grad()
    def predict(self, frames: np.ndarray, instructions: list[str], tokens: int) -> np.ndarray:
        """Greedy action codes (B, tokens) for frames and instructions."""
        inputs = self.batch(frames, instructions)
        out = self.model.generate(
            **inputs,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            logits_processor=LogitsProcessorList([OnlyTokens(self.action_ids)]),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        lookup = {int(t): i for i, t in enumerate(self.action_ids)}
        return np.array([[lookup[int(t)] for t in row] for row in out[:, -tokens:]], dtype=np.int64)


def load_backbone(
    uri: str,
    action_codes: int,
    prompt: str,
    s3: S3Settings | None = None,
    freeze_vision: bool = False,
    lora: LoraConfig | None = None,
) -> Backbone:
    folder = find_model_dir(
        resolve_model_dir(uri, s3),
        ("model.safetensors", "model.safetensors.index.json"),
        "model",
        "vision-language",
        "egovla vlm pretrain",
    )
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32)
    tokenizer = processor.tokenizer
    tokenizer.add_tokens([action_token(i) for i in range(action_codes)], special_tokens=True)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        # Before any backward pass: resizing afterwards breaks the next one.
        model.resize_token_embeddings(len(tokenizer))
    action_ids = torch.tensor(tokenizer.convert_tokens_to_ids([action_token(i) for i in range(action_codes)]))
    if freeze_vision:
        frozen = [p for name, p in model.named_parameters() if any(k in name.split(".") for k in VISION_PREFIXES)]
        if not frozen:
            raise ValueError(f"{uri}: no vision tower found to freeze (looked for {VISION_PREFIXES})")
        for p in frozen:
            p.requires_grad_(False)
    if lora is not None:
        model = _with_lora(model, lora)
    return Backbone(model, processor, action_ids, prompt)


def _with_lora(model: torch.nn.Module, lora: LoraConfig) -> torch.nn.Module:
    from peft import LoraConfig as PeftLora
    from peft import get_peft_model

    # LoRA on the language model's attention; the embedding and output rows must train in full,
    # because the action tokens are new.
    targets = rf".*language_model.*\.({'|'.join(lora.target_modules)})"
    config = PeftLora(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=0.0,
        target_modules=targets,
        modules_to_save=["embed_tokens", "lm_head"],
    )
    return get_peft_model(model, config)


def exportable(model: torch.nn.Module) -> torch.nn.Module:
    """The plain transformers model: LoRA adapters merged in."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model

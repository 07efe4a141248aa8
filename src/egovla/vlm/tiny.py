"""A tiny LLaVA (CLIP vision + Llama text) built from a config, with a tokenizer trained here.

It is saved with save_pretrained and loaded back through exactly the code path real weights take,
so tests and the embedded default exercise the production loader. Random weights: it learns only
what pretraining teaches it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaImageProcessor,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from egovla.io.atomic import atomic_dir

SPECIAL = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
VERBS = ["move", "pick up", "put down", "push", "pull", "open", "close", "reach", "place", "grasp", "slide", "turn"]
OBJECTS = [
    "the object",
    "the cup",
    "the block",
    "the drawer",
    "the door",
    "the lid",
    "the bottle",
    "the box",
    "the puck",
    "the handle",
    "the button",
    "the tool",
    "the bowl",
    "the ball",
]


def _corpus(prompt: str) -> list[str]:
    sentences = [prompt.format(instruction=f"{v} {o}") for v, o in itertools.product(VERBS, OBJECTS)]
    return sentences + [f"{v} {o} to the left and to the right, up and down" for v, o in zip(VERBS, OBJECTS)]


def build_tokenizer(prompt: str, vocab_size: int = 400) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(_corpus(prompt), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )


def build_tiny_llava(
    out_dir: str | Path, prompt: str, image_size: int = 64, hidden: int = 64, layers: int = 2, seed: int = 0
) -> Path:
    """Writes a save_pretrained folder (model + processor) and returns it."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(prompt)
    patch = 16
    vision = CLIPVisionConfig(
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(config)
    images = LlavaImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
    )
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
    return out

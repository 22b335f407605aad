"""Build the tiny Gemma 3 vision-language model that the demo and the tests train.

No checkpoint can be downloaded here, yet a new user must see the real stack work: so the
project makes its own model. It has the exact architecture of the reference case
(`Gemma3ForConditionalGeneration` with a SigLIP tower), only small. Every linear layer that
bitsandbytes quantizes has both dimensions >= 64, the 4-bit block size; smaller ones make the
CPU kernel fail (`shape '[32, 0]' is invalid`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from . import _ocr_data as _ocr

SPECIAL_TOKENS = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]

# Gemma's own chat template, reduced: roles become `user`/`model`, an image part becomes
# `<start_of_image>`, which the processor expands into the image's soft tokens.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<start_of_image>"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

IMAGE_SIZE = _ocr.IMAGE_SIZE
PATCH_SIZE = _ocr.CELL  # one patch per character cell
TOKENS_PER_IMAGE = _ocr.GRID * _ocr.GRID  # no pooling: one soft token per cell
VOCAB_SIZE = 640  # the text-only test model's BPE vocabulary
# The VLM's vocabulary: the special tokens and the 256 bytes, no merges. One token per
# character of the demo's ASCII lines, so the n-th answer token reads the n-th cell: a fixed
# offset from it, which a two-layer model learns quickly (with BPE merges it did not).
BYTE_VOCAB_SIZE = len(SPECIAL_TOKENS) + 256


def train_tokenizer(corpus: list[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    """A byte-level BPE tokenizer trained on `corpus`, Gemma's special tokens first; with
    `BYTE_VOCAB_SIZE` it has no merges at all."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def chat_tokenizer(corpus: list[str], vision: bool, vocab_size: int = VOCAB_SIZE) -> Any:
    """A transformers tokenizer over `train_tokenizer(corpus, vocab_size)`, with Gemma's turn
    tokens and chat template; `vision` declares the image tokens a Gemma 3 processor looks for."""
    from transformers import PreTrainedTokenizerFast

    extra: dict[str, Any] = {"chat_template": CHAT_TEMPLATE}
    if vision:
        extra["extra_special_tokens"] = {
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        }
        extra["model_max_length"] = 8192
    return PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(corpus, vocab_size),
        bos_token="<bos>",
        eos_token="<end_of_turn>",
        pad_token="<pad>",
        unk_token="<unk>",
        **extra,
    )


def build_tiny_gemma3(folder: Path, corpus: list[str], seed: int = 0) -> None:
    """Write a tiny Gemma 3 VLM (random weights, fixed seed), its tokenizer and processor.

    Args:
        folder: where the checkpoint is written (created).
        corpus: texts the tokenizer is trained on (the demo's answers and instruction).
        seed: torch seed for the weights, so every build is the same model.
    """
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessorPil,
        Gemma3Processor,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    tokenizer = chat_tokenizer(corpus, vision=True, vocab_size=BYTE_VOCAB_SIZE)
    image_processor = Gemma3ImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        image_seq_length=TOKENS_PER_IMAGE,
    )

    text_config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=8192,
        sliding_window=128,
        initializer_range=0.2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    vision_config = SiglipVisionConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
    )
    config = Gemma3Config(
        text_config=text_config,
        vision_config=vision_config,
        mm_tokens_per_image=TOKENS_PER_IMAGE,
        boi_token_index=tokenizer.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tokenizer.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tokenizer.convert_tokens_to_ids("<image_soft_token>"),
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config)
    # The projector starts at zero in transformers; give it random values at the scale of the
    # text embeddings (0.02 left the image ten times fainter than the text, and unread), and
    # drop the vision tower's position embeddings, which outweighed the glyphs: the order of
    # the soft tokens already tells the language model where each cell is.
    with torch.no_grad():
        model.model.multi_modal_projector.mm_input_projection_weight.normal_(0.0, 0.2)
        model.model.vision_tower.embeddings.position_embedding.weight.zero_()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)

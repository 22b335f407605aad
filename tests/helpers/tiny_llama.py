"""A tiny text-only causal LM (Llama) for tests of the text path, built like the demo model."""

from __future__ import annotations

from pathlib import Path

from lorasearch_tui.demo._model import VOCAB_SIZE, chat_tokenizer


def build_tiny_llama(folder: Path, corpus: list[str]) -> Path:
    """Write a 2-layer Llama (every quantized dimension >= 64) with a locally trained tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = chat_tokenizer(corpus, vision=False)
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        initializer_range=0.2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder

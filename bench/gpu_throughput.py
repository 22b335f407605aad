"""Tokens/s of 4-bit QLoRA training on a Gemma-3-12B-shaped model: the reference project's
setting (micro-batch 1 x 4 accumulation, gradient checkpointing) against larger micro-batches
at the same effective batch, measured in one run.

The model is Gemma 3 12B's text tower built from its shape with random weights (no download:
the GPU machine reaches no network), saved once to /tmp and loaded in 4-bit NF4 like a real
checkpoint; LoRA r=16 on all linear layers, bf16 compute, 8-bit AdamW, random tokens of
`--seq` length. `--tiny` runs the same code on a toy shape (the CPU check of this script).

    python bench/gpu_throughput.py [--layers 48] [--seq 1024] [--steps 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

SHAPE_12B = {  # google/gemma-3-12b-it, text_config
    "hidden_size": 3840,
    "intermediate_size": 15360,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 256,
    "vocab_size": 262208,
    "sliding_window": 1024,
}
TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "vocab_size": 512,
    "sliding_window": 64,
}
EFFECTIVE = 4  # sequences per optimizer step: the reference project's 1 x 4
SETTINGS = [  # micro-batch 0: lorasearch's batch_fit picks it (training/_batch_fit.fit)
    ("1x4 ckpt (reference)", 1, 4, True),
    ("auto ckpt (batch_fit)", 0, 0, True),
    ("4x1 ckpt", 4, 1, True),
    ("4x1", 4, 1, False),
    ("8x1 ckpt", 8, 1, True),
]


def build_checkpoint(folder: Path, shape: dict, layers: int, device: str) -> float:
    """Random weights of the shape, saved as a checkpoint once; seconds it took."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    if (folder / "config.json").exists():
        return 0.0
    began = time.perf_counter()
    config = Gemma3TextConfig(**shape, num_hidden_layers=layers)
    with torch.device(device):
        model = Gemma3ForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="4GB")
    del model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return time.perf_counter() - began


def measure(folder: Path, micro: int, accum: int, ckpt: bool, seq: int, steps: int, vocab: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    cuda = torch.cuda.is_available()
    began = time.perf_counter()
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if cuda else torch.float32,
    )
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        quantization_config=quant,
        dtype=torch.bfloat16 if cuda else torch.float32,
        device_map={"": 0} if cuda else None,
        attn_implementation="sdpa",
    )
    load_s = time.perf_counter() - began
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=ckpt)
    model = get_peft_model(
        model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    )
    # from_pretrained returns the model in eval mode, where Transformers does not checkpoint:
    # without this the "ckpt" rows of the first GPU run (2026-12-04) kept every activation
    # (4x1 with and without: 102.5 GiB both), and compared nothing.
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    if cuda:
        import bitsandbytes as bnb

        optimizer = bnb.optim.AdamW8bit(params, lr=1e-4)
        torch.cuda.reset_peak_memory_stats()
    else:
        optimizer = torch.optim.AdamW(params, lr=1e-4)
    device = "cuda" if cuda else "cpu"
    generator = torch.Generator().manual_seed(0)
    chosen = ""
    if micro == 0:  # lorasearch's fit: the largest divisor of the effective batch that fits
        from lorasearch_tui.training._batch_fit import MARGIN, fit

        def probe(m: int) -> int | None:
            ids = torch.randint(0, vocab, (m, seq), generator=generator).to(device)
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            try:
                model(input_ids=ids, labels=ids).loss.backward()
                return int(torch.cuda.max_memory_allocated()) if cuda else 0
            except torch.OutOfMemoryError:
                return None
            finally:
                model.zero_grad(set_to_none=True)

        total = torch.cuda.get_device_properties(0).total_memory if cuda else 2**40
        choice = fit(EFFECTIVE, probe, int(total * (1 - MARGIN)))
        micro, accum, chosen = choice.micro_batch, choice.accumulation, choice.label
        if cuda:
            torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        for _ in range(accum):
            ids = torch.randint(0, vocab, (micro, seq), generator=generator).to(device)
            loss = model(input_ids=ids, labels=ids).loss / accum
            loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up: kernels, allocator, optimizer state
    if cuda:
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    return {
        "tokens_per_s": micro * accum * seq * steps / seconds,
        "peak_gib": peak,
        "load_s": load_s,
        "step_s": seconds / steps,
        "chosen": chosen,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=48)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a toy shape: checks the script on a CPU")
    parser.add_argument("--only", default="", help="comma-separated setting names to run (default all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    shape, layers, seq = (TINY, 2, 64) if args.tiny else (SHAPE_12B, args.layers, args.seq)
    folder = Path("/tmp") / f"gemma3-shape-{'tiny' if args.tiny else '12b'}-{layers}l"
    built = build_checkpoint(folder, shape, layers, "cuda" if torch.cuda.is_available() else "cpu")
    print(
        f"checkpoint {folder}: built in {built:.0f} s" if built else f"checkpoint {folder}: reused",
        flush=True,
    )
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    rows = []
    print(f"{'setting':<22} {'tokens/s':>9} {'peak GiB':>9} {'s/step':>7} {'load s':>7}", flush=True)
    for name, micro, accum, ckpt in SETTINGS:
        if wanted and name not in wanted:
            continue
        try:
            row = {
                "setting": name,
                **measure(folder, micro, accum, ckpt, seq, args.steps, shape["vocab_size"]),
            }
        except torch.OutOfMemoryError as exc:
            row = {"setting": name, "tokens_per_s": 0.0, "peak_gib": float("nan"), "error": str(exc)[:120]}
            gc.collect()
            torch.cuda.empty_cache()
        rows.append(row)
        print(
            f"{name:<22} {row['tokens_per_s']:>9.0f} {row['peak_gib']:>9.1f} {row.get('step_s', 0):>7.2f} "
            f"{row.get('load_s', 0):>7.1f}" + (f"  chose {row['chosen']}" if row.get("chosen") else ""),
            flush=True,
        )
        if args.json:  # what was measured so far survives a timeout
            args.json.write_text(json.dumps({"seq": seq, "layers": layers, "rows": rows}, indent=2))
    reference = rows[0]["tokens_per_s"] if rows and rows[0]["tokens_per_s"] else None
    for row in rows[1:]:
        if reference and row["tokens_per_s"]:
            print(f"{row['setting']}: {row['tokens_per_s'] / reference:.2f}x the reference setting")


if __name__ == "__main__":
    main()

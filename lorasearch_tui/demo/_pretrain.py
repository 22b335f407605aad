"""Teach the demo model to read at build time, so that a demo search has something to find.

A model with random weights never reads a line within a demo trial: every CER was 1.0 and the
search crowned a tie. So the build trains the whole tiny model (full precision, no LoRA) on
lines drawn from another seed than the demo's data. Asked `READ_INSTRUCTION`, it answers the
line; asked the demo's own question, it answers `DESCRIPTION`, as a base VLM describes an
image it was asked to transcribe. The demo search then has a real job, the one a user's search
has: teach the model, through a LoRA adapter, that the user's question asks for the transcript.
A good learning rate does that within a trial; too low a rate leaves the description, too high
a rate breaks the reading.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._ocr_data import _line, demo_font, render_line

READ_INSTRUCTION = "Read the text please"
DESCRIPTION = "a line of printed text"
_BATCH = 16
_LR = 5e-3
_WARMUP = 20
_ASK_DEMO_EVERY = 4  # one row in four asks the demo's question


def pretrain(
    folder: Path,
    demo_instruction: str,
    steps: int,
    progress: Callable[[str], None] | None = None,
    seed: int = 1,
) -> None:
    """Train the model saved in `folder` for `steps` batches and save it back in place.

    Args:
        folder: a checkpoint written by `build_tiny_gemma3`.
        demo_instruction: the question the demo's config asks, answered with `DESCRIPTION`.
        steps: optimizer steps of 16 rendered lines each.
        progress: called every 100 steps with a short line.
        seed: for the lines and torch, so a build is the same model on the same machine.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    torch.manual_seed(seed)
    rng = random.Random(seed)
    font = demo_font()
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32)
    collate = DataCollatorForVisionLanguageModeling(processor)
    optimizer = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, steps))
    model.train()
    for step in range(steps):
        rows = [
            _row(rng, font, demo_instruction if i % _ASK_DEMO_EVERY == 0 else None) for i in range(_BATCH)
        ]
        loss = model(**collate(rows)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if progress is not None and (step + 1) % 100 == 0:
            progress(f"  step {step + 1}/{steps}, loss {loss.item():.3f}")
    model.save_pretrained(folder)


def _lr_factor(step: int, steps: int) -> float:
    """Warm up over 20 steps, hold, then fall linearly to a tenth over the last fifth."""
    settle = int(steps * 0.8)
    if step < _WARMUP:
        return (step + 1) / _WARMUP
    if step < settle:
        return 1.0
    return 1.0 - 0.9 * (step - settle) / max(1, steps - settle)


def _row(rng: random.Random, font: Any, demo_instruction: str | None) -> dict[str, Any]:
    """One prompt/completion example, as the search builds them from an OCR record."""
    text = _line(rng)
    answer = DESCRIPTION if demo_instruction else text
    question = demo_instruction or READ_INSTRUCTION
    return {
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
        "images": [render_line(text, font)],
    }

"""The objective's value at an eval: the trainer's loss, its token accuracy, or a score of what
the adapter writes (CER, WER, exact match) on a fixed subset of the val split.

Generation is greedy and batched with left padding, records of like lengths together
(`generation_order`), the adapter in eval mode; its time is kept apart from training time
(`seconds`). Each eval's answers are appended to a `generations.jsonl` beside the run (step,
record, prediction, reference), so any reported score can be checked against `jiwer` by hand.
Text is compared after `normalize`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..config import Objective
from ..data import LoadedData
from ..scores import blank_as_symbol, normalized


def score(metric: str, predictions: list[str], references: list[str]) -> float:
    """Corpus-level CER or WER (edits over reference length, `jiwer`), or the share of exact
    matches. An empty reference counts as one character (or word) so nothing divides by zero."""
    if metric == "exact_match":
        return sum(p == r for p, r in zip(predictions, references, strict=True)) / len(references)
    import jiwer

    pairs = [blank_as_symbol(p, r) for p, r in zip(predictions, references, strict=True)]
    measure = jiwer.cer if metric == "cer" else jiwer.wer
    return float(measure([r for _, r in pairs], [p for p, _ in pairs]))


class Scorer:
    """Generates and scores the first `eval_samples` val records at each eval."""

    def __init__(
        self, base: Any, data: LoadedData, objective: Objective, batch_size: int, log: Path | None
    ) -> None:
        self._base = base
        self._objective = objective
        self._examples = list(data.val[: objective.eval_samples])
        self._references = [normalized(e.answer_text(), objective.normalize) for e in self._examples]
        self._batch = max(1, batch_size)
        self._log = log
        self.seconds = 0.0
        self.last_scores: tuple[float, ...] = ()  # each record's score at the last eval, in order
        self._max_new = max_new_tokens(base, self._examples, objective)
        self._order = generation_order(self._examples)

    def __call__(self, model: Any, step: int) -> float:
        import torch

        began = time.perf_counter()
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                written: dict[int, str] = {}
                for start in range(0, len(self._order), self._batch):
                    group = self._order[start : start + self._batch]
                    chunk = [self._examples[i] for i in group]
                    written.update(zip(group, generate(self._base, model, chunk, self._max_new), strict=True))
                answers = [written[i] for i in range(len(self._examples))]
        finally:
            if was_training:
                model.train()
        predictions = [normalized(a, self._objective.normalize) for a in answers]
        value = score(self._objective.metric, predictions, self._references)
        metric = self._objective.metric
        self.last_scores = tuple(
            score(metric, [p], [r]) for p, r in zip(predictions, self._references, strict=True)
        )
        self.seconds += time.perf_counter() - began
        if self._log is not None:
            with self._log.open("a", encoding="utf-8") as out:
                for example, prediction, reference in zip(
                    self._examples, predictions, self._references, strict=True
                ):
                    row = {
                        "step": step,
                        "record": example.index,
                        "prediction": prediction,
                        "reference": reference,
                    }
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return value


def generation_order(examples: list[Any]) -> list[int]:
    """The order to generate `examples` in, as indices: by number of images (a batch never mixes
    records with and without one), prompt length, then the length of the reference answer. A
    batch pads its prompts to the longest and runs until its longest answer ends, so batches of
    like lengths waste the least (bench/generation.py measures it). The answers are put back in
    record order afterwards: the per-record scores a pruner reads keep their meaning."""
    return sorted(
        range(len(examples)),
        key=lambda i: (
            len(examples[i].images),
            len(examples[i].prompt_text()),
            len(examples[i].answer_text()),
        ),
    )


def max_new_tokens(base: Any, examples: list[Any], objective: Objective) -> int:
    """The objective's `max_new_tokens`, or a quarter more than the longest reference."""
    tokenizer = base.tokenizer
    longest = max(
        (len(tokenizer(e.answer_text(), add_special_tokens=False)["input_ids"]) for e in examples),
        default=1,
    )
    return objective.max_new_tokens or int(longest * 1.25) + 4


def generate(base: Any, model: Any, examples: list[Any], max_new: int) -> list[str]:
    """Greedy answers to `examples`, one batch, with the prompts the training built: the search's
    evals and `evaluate` write their answers the same way."""
    from PIL import Image

    processor, tokenizer = base.processor, base.tokenizer
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # generation continues the right end
    try:
        texts = [
            processor.apply_chat_template(e.prompt, add_generation_prompt=True, tokenize=False)
            for e in examples
        ]
        if any(e.images for e in examples):
            images = [[Image.open(p).convert("RGB") for p in e.images] for e in examples]
            inputs = processor(text=texts, images=images, return_tensors="pt", padding=True)
        else:
            inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    inputs = inputs.to(model.device)
    if "pixel_values" in inputs and base.device == "cuda":
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    out = model.generate(
        **inputs,
        max_new_tokens=max_new,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    )
    return tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

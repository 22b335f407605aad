"""Length statistics of prompts and answers, for `lorasearch validate`.

Counted in tokens with the model's own `tokenizer.json` (through the light `tokenizers`
library, not transformers, so validate stays fast), plus the image tokens a Gemma-style config
declares; in characters when the folder has no `tokenizer.json`. The chat template's few
tokens per turn are not counted, so totals are a slight underestimate.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._records import Example


@dataclass(frozen=True)
class Spread:
    """min / median / 95th percentile / max of some lengths."""

    min: int
    median: int
    p95: int
    max: int

    @classmethod
    def of(cls, values: Sequence[int]) -> Spread:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        return cls(ordered[0], int(statistics.median(ordered)), p95, ordered[-1])


@dataclass(frozen=True)
class LengthStats:
    """How long the examples are, and how many exceed `max_seq_length`."""

    unit: str  # "tokens" or "characters"
    prompt: Spread
    answer: Spread
    total: Spread
    image_tokens_per_image: int | None
    over_limit: int  # examples longer than max_seq_length (token counts only)


def length_stats(examples: Sequence[Example], model_dir: Path | None, max_seq_length: int) -> LengthStats:
    """Length statistics of `examples`, in tokens when `model_dir` has a `tokenizer.json`."""
    tokenizer = _tokenizer(model_dir)
    image_tokens = _image_tokens(model_dir)
    prompts, answers = [e.prompt_text() for e in examples], [e.answer_text() for e in examples]
    if tokenizer is not None:
        prompt_len = [len(enc.ids) for enc in tokenizer.encode_batch(prompts, add_special_tokens=False)]
        answer_len = [len(enc.ids) for enc in tokenizer.encode_batch(answers, add_special_tokens=False)]
        unit = "tokens"
    else:
        prompt_len, answer_len, unit = [len(p) for p in prompts], [len(a) for a in answers], "characters"
    prompt_len = [n + len(e.images) * (image_tokens or 0) for n, e in zip(prompt_len, examples, strict=True)]
    totals = [p + a for p, a in zip(prompt_len, answer_len, strict=True)]
    over = sum(t > max_seq_length for t in totals) if unit == "tokens" else 0
    return LengthStats(
        unit, Spread.of(prompt_len), Spread.of(answer_len), Spread.of(totals), image_tokens, over
    )


def _tokenizer(model_dir: Path | None):  # -> tokenizers.Tokenizer | None
    if model_dir is None or not (model_dir / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def _image_tokens(model_dir: Path | None) -> int | None:
    """Soft tokens per image from a Gemma-style `mm_tokens_per_image`, None if not declared."""
    if model_dir is None or not (model_dir / "config.json").is_file():
        return None
    config = json.loads((model_dir / "config.json").read_text())
    value = config.get("mm_tokens_per_image")
    return int(value) if isinstance(value, int) else None

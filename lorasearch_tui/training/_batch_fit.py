"""The micro-batch that fills the GPU at the user's effective batch (`batch_fit: "auto"`).

`per_device_train_batch_size x gradient_accumulation_steps` is the batch the user means (and
searches): what one optimizer step learns from. How it is cut into micro-batches changes only
speed: on an H200, the same 4 sequences of a 12B model trained at 810-990 tokens/s as 1 x 4 and
2,805 as 4 x 1 (plain TRL + PEFT, measured before lorasearch ran there). So on CUDA the worker
tries the divisors of the effective batch from the largest down, each with a real forward and
backward pass at the data's longest example, and keeps the first whose peak memory leaves
`MARGIN` of the GPU free; accumulation makes up the rest, so the product is unchanged (on the
CPU 1 x 4 and 4 x 1 give the same losses to float precision: `tests/test_batch_fit.py`). The
choice is cached per model, sequence length, LoRA rank, checkpointing and effective batch for
the worker's life, and recorded in the trial.

On the CPU there is no memory to fill and nothing to gain: `auto` keeps the user's numbers; so
does a fit whose probe fails for any reason but running out of memory (logged).
Whether gradient checkpointing should go when the fitted micro-batch would fit without it is
not decided here: it needs the GPU measurements of `bench/gpu_throughput.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger("lorasearch.training")

MARGIN = 0.10  # of the GPU left free: the optimizer's first step, fragmentation, eval batches


@dataclass(frozen=True)
class BatchChoice:
    micro_batch: int
    accumulation: int
    fitted: bool  # chosen by fitting (False: the user's numbers, as given)
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.micro_batch}x{self.accumulation}"


def divisors_down(effective: int) -> list[int]:
    """The micro-batches that keep the effective batch exact, largest first."""
    return [m for m in range(effective, 0, -1) if effective % m == 0]


def fit(effective: int, probe: Callable[[int], int | None], budget: int) -> BatchChoice:
    """The largest divisor of `effective` whose `probe` fits `budget` bytes.

    Args:
        probe: runs a forward and backward pass at micro-batch m; its peak memory in bytes,
            or None when it ran out of memory.
        budget: the bytes a micro-batch may take at its peak.
    """
    tried = []
    for micro in divisors_down(effective):
        peak = probe(micro)
        if peak is not None and peak <= budget:
            note = f"peak {peak / 2**30:.1f} GiB of {budget / 2**30:.1f} GiB"
            if tried:
                note += f"; {', '.join(tried)} did not fit"
            return BatchChoice(micro, effective // micro, True, note)
        tried.append(str(micro) if peak is None else f"{micro} ({peak / 2**30:.1f} GiB)")
    return BatchChoice(1, effective, True, f"nothing fits in {budget / 2**30:.1f} GiB: 1 x {effective}")


_CACHE: dict[tuple[Any, ...], BatchChoice] = {}


def choose(params: Any, base: Any, probe_for: Callable[[], Callable[[int], int | None]]) -> BatchChoice:
    """The micro-batch and accumulation a trial trains with (`params.batch_fit`).

    `probe_for()` builds the probe only when a fit is needed (a trainer on the trial's model).
    """
    micro, accumulation = params.per_device_train_batch_size, params.gradient_accumulation_steps
    effective = micro * accumulation
    if params.batch_fit == "fixed" or base.device != "cuda" or effective == 1:
        return BatchChoice(micro, accumulation, False)
    key = (
        base.key,
        params.max_seq_length,
        params.lora_r,
        params.gradient_checkpointing,
        params.finetune_vision_layers,
        effective,
    )
    if key not in _CACHE:
        import torch

        try:
            total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
            _CACHE[key] = fit(effective, probe_for(), int(total * (1 - MARGIN)))
        except Exception as exc:  # a probe that cannot run must not fail the trial
            # The fit is a speed-up: when its probe cannot run (a model or library it was never
            # tried with), the trial trains with the user's numbers and the log says why.
            _log.warning("batch fit skipped, %s x %s as given: %s", micro, accumulation, exc)
            torch.cuda.empty_cache()
            _CACHE[key] = BatchChoice(micro, accumulation, False, f"fit failed: {exc}"[:200])
        _log.info("batch fit %s: %s (%s)", key, _CACHE[key].label, _CACHE[key].note)
    return _CACHE[key]


def cuda_probe(trainer: Any, checkpointing: bool) -> Callable[[int], int | None]:
    """A probe that runs the trainer's own training step on `m` copies of the longest example
    of its train split (with checkpointing on, as `train()` will turn it on), then throws its
    gradients away."""
    import torch

    index = _longest_index(trainer.train_dataset)
    if checkpointing:
        trainer.model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )

    def probe(micro: int) -> int | None:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:
            probe_step(trainer, index, micro)
            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated())
        except torch.OutOfMemoryError:
            return None
        finally:
            torch.cuda.empty_cache()

    return probe


def probe_step(trainer: Any, index: int, micro: int) -> float:
    """One training step on `micro` copies of train example `index`, its gradients thrown away;
    the loss, for a test (the memory it took is the probe's business).

    Each copy is a fresh read of the row: TRL's collator fills a multimodal prompt's image
    placeholder in place, so one dict passed twice reaches it the second time with no
    placeholder left ("Number of images provided (1) does not match ... (0)"). That is how the
    fit failed, and fell back to the user's numbers, on every vision-language model on the
    first GPU run (2026-12-04); the CPU never reaches this code except through a test.
    """
    model = trainer.model
    model.train()  # checkpointing is only active in training mode, and so is its saving
    # `train()` sets this before its first step, and `training_step` divides the loss by it:
    # a step taken before `train()` failed with AttributeError, on any model.
    trainer.current_gradient_accumulation_steps = 1
    try:
        batch = trainer.data_collator([trainer.train_dataset[index] for _ in range(micro)])
        return float(trainer.training_step(model, batch))
    finally:
        model.zero_grad(set_to_none=True)


def _longest_index(dataset: Any) -> int:
    """The example with the most tokens (prepared text), or the longest text (raw rows, whose
    images are not decoded for this: every image gives the same number of tokens)."""
    if "input_ids" in dataset.column_names:
        lengths = [len(ids) for ids in dataset["input_ids"]]
    else:
        texts = dataset.select_columns([c for c in dataset.column_names if c != "images"])
        lengths = [len(str(row)) for row in texts]
    return max(range(len(lengths)), key=lengths.__getitem__)

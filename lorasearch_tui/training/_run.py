"""One training run: TRL's SFTTrainer over a LoRA-wrapped base, watched by an observer.

The loss covers only the answer: examples are conversational prompt/completion pairs, for
which TRL masks the prompt and the image tokens (labels -100). Evals compute the loss only
(`prediction_loss_only`), so no logits are kept in memory.

The splits are built once per data, model and sequence length and reused by every later
trial of the worker (`LoadedData.prepared`): text is templated, tokenized, truncated and
label-masked by TRL for the first trainer only, later ones take its result as it is
(`skip_prepare_dataset`); a trial still shuffles with its own seed. Images are decoded and
processed per batch by TRL's collator, as TRL does for every vision data set (caching the
processed pixels would cost GBs of memory for 896x896 images; on the demo collation is 3% of
a step).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import TrainParams, check_options
from ..data import Example, LoadedData
from ..errors import UserError
from ..scores import GENERATIONS_FILE
from ._batch_fit import choose, cuda_probe
from ._early_stop import EarlyStopping
from ._model import LoadedBase, attach_lora, detach_lora
from ._observer import NullObserver, TrainingObserver, make_callback
from ._reporting import reporting_callbacks, run_name
from ._result import RunHistory, RunResult
from ._scoring import Scorer

_log = logging.getLogger("lorasearch.training")


@contextmanager
def lora_adapter(base: LoadedBase, params: TrainParams) -> Iterator[Any]:
    """A fresh LoRA adapter on `base` for the duration of the block, removed after it."""
    peft_model = attach_lora(base, params)
    try:
        yield peft_model
    finally:
        detach_lora(base, peft_model)


def to_dataset(examples: list[Example]) -> Any:
    """A `datasets.Dataset` of the examples; images are decoded per batch, not up front."""
    import datasets

    datasets.disable_progress_bars()
    rows = [e.to_row() for e in examples]
    if not any("images" in row for row in rows):
        return datasets.Dataset.from_list(rows)
    for row in rows:
        row.setdefault("images", [])
    return datasets.Dataset.from_list(rows).cast_column("images", datasets.List(datasets.Image()))


def check_fit(base: LoadedBase, data: LoadedData, params: TrainParams) -> None:
    """Images need a vision-language model; the options their packages and files."""
    check_options(params, data.has_images)
    if data.has_images and not base.is_vlm:
        raise UserError(
            f"input_data: {data.source} has images but {base.path} is a text-only model; "
            f"use a vision-language checkpoint or records without images"
        )


def run_training(
    base: LoadedBase,
    peft_model: Any,
    params: TrainParams,
    data: LoadedData,
    output_dir: Path,
    observer: TrainingObserver | None = None,
    eval_on_start: bool = True,
    save_checkpoints: bool = False,
    checkpoint_every: int = 0,
    resume_from: Path | None = None,
) -> RunResult:
    """Train `peft_model` on `data` as `params` say and return the result.

    Args:
        output_dir: the trainer's working folder (checkpoints, when `save_checkpoints`).
        observer: told of every step and eval; may stop the run.
        eval_on_start: evaluate the untrained adapter first (gives `initial_eval_loss`).
        save_checkpoints: write a checkpoint every `params.save_steps` steps.
        checkpoint_every: a search trial's checkpoints (`--checkpoint-every`): every this many
            steps, only the last one kept, so that a lost trial's rerun can resume from it.
        resume_from: a checkpoint folder (`checkpoint-N`) of a run with the same parameters:
            training goes on from its step with its adapter, optimizer, scheduler, RNG states
            and data position, as if never stopped (its earlier evals are not repeated).

    Raises:
        TrainingDiverged: the loss became NaN or infinite.
    """
    import torch

    history = RunHistory()
    objective = params.objective
    scorer = None
    if objective.generates:
        log = output_dir.parent / GENERATIONS_FILE  # beside the run: the trial's or the train's folder
        scorer = Scorer(base, data, objective, params.per_device_train_batch_size, log)

    def value_of(logs: dict, model: Any, step: int) -> float:
        if objective.metric == "eval_loss":
            return float(logs["eval_loss"])
        if objective.metric == "token_accuracy":
            return float(logs["eval_mean_token_accuracy"])
        assert scorer is not None
        return scorer(model, step)

    choice = choose(
        params,
        base,
        lambda: cuda_probe(
            _trainer(base, peft_model, params, data, output_dir, [], False, False),
            params.gradient_checkpointing,
        ),
    )
    if choice.fitted:  # the same effective batch, cut into the micro-batches that fill the GPU
        params = params.model_copy(
            update={
                "per_device_train_batch_size": choice.micro_batch,
                "gradient_accumulation_steps": choice.accumulation,
            }
        )
    scores_of = (lambda: scorer.last_scores) if scorer is not None else None
    callbacks = [make_callback(observer or NullObserver(), history, value_of, scores_of)]
    stopping = None
    if params.early_stopping_patience is not None:
        stopping = EarlyStopping(params.early_stopping_patience, objective.goal == "maximize", history)
        callbacks.append(stopping.callback())
    callbacks += reporting_callbacks(params, output_dir)
    eval_on_start = eval_on_start and resume_from is None  # the step-0 eval was the first run's
    saving = (save_checkpoints, checkpoint_every)
    trainer = _trainer(base, peft_model, params, data, output_dir, callbacks, eval_on_start, *saving)
    cuda = base.device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    else:
        _reset_peak_rss()
    started = time.perf_counter()
    if resume_from is not None:
        _resume_in_training_dtype(trainer)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)
    steps = trainer.state.global_step
    if history.stopped_at is None and (not history.evals or history.evals[-1]["step"] != steps):
        trainer.evaluate()  # the final adapter's loss, logged through the callback
    final = history.evals[-1] if history.evals else None
    if stopping is not None and stopping.best is not None and history.stopped_at is None:
        stopping.restore(peft_model)  # the run's result is its best eval, and its adapter
        final = stopping.best
    runtime = time.perf_counter() - started
    # a resumed run's count goes on from the checkpoint's: only what this run trained counts here
    tokens = int(trainer.state.num_input_tokens_seen) - _tokens_at(resume_from)
    generate_s = scorer.seconds if scorer is not None else 0.0
    train_seconds = max(runtime - history.eval_seconds - generate_s, 1e-9)
    peak, kind = _peak_memory(cuda, torch)
    values = None
    if final is not None and history.stopped_at is None:
        measured = {
            "peak_memory_gb": peak / 2**30,
            "train_seconds": train_seconds,
            "tokens_per_second": tokens / train_seconds,
        }
        values = [_final(goal.metric, final, measured, i) for i, goal in enumerate(params.goals)]
    first = history.evals[0] if eval_on_start and history.evals and history.evals[0]["step"] == 0 else None
    return RunResult(
        eval_loss=final["eval_loss"] if final else None,
        initial_eval_loss=first["eval_loss"] if first else None,
        train_history=history.train,
        eval_history=history.evals,
        steps=steps,
        max_steps=trainer.state.max_steps,
        stopped_at=history.stopped_at,
        runtime_s=runtime,
        train_tokens=tokens,
        tokens_per_s=tokens / train_seconds,
        peak_memory_bytes=peak,
        memory_kind=kind,
        metric=objective.metric,
        value=final["value"] if final else None,
        initial_value=first["value"] if first else None,
        generate_s=generate_s,
        values=values,
        batch=f"{choice.label}{' fitted' if choice.fitted else ''}",
        early_stopped_at=stopping.stopped_at if stopping is not None else None,
        best_step=int(final["step"]) if final is not None and stopping is not None else None,
    )


def _tokens_at(checkpoint: Path | None) -> int:
    """The input tokens a checkpoint's run had seen (0: no checkpoint, or none recorded)."""
    if checkpoint is None:
        return 0
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        return int(state.get("num_input_tokens_seen") or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def _resume_in_training_dtype(trainer: Any) -> None:
    """Keep a resumed adapter in the dtype its run trained it in.

    TRL casts a quantized model's LoRA weights to bf16 (QLoRA's recipe) when the trainer is
    built; Transformers' resume loads them with PEFT's `load_adapter`, which casts them up to
    float32 again (`autocast_adapter_dtype`). The resumed trial then trained at another
    precision than the run it resumes: 8e-4 off at the end of a 68-step demo trial
    (`bench/resume_saving.py`). Cast back right after the load, before the optimizer is made
    and its state loaded (Transformers' order in `train()`), so its moments load as saved.
    """
    dtypes = {name: p.dtype for name, p in trainer.model.named_parameters() if p.requires_grad}
    load = trainer._load_from_checkpoint

    def load_in_training_dtype(*args: Any, **kwargs: Any) -> None:
        load(*args, **kwargs)
        for name, param in trainer.model.named_parameters():
            if name in dtypes and param.dtype != dtypes[name]:
                param.data = param.data.to(dtypes[name])

    trainer._load_from_checkpoint = load_in_training_dtype


def _final(metric: str, last_eval: dict[str, float], measured: dict[str, float], index: int) -> float:
    """One objective's value for the final adapter: the first objective is what every eval
    reported; the others are read from the last eval or from what the run measured."""
    if index == 0:
        return last_eval["value"]
    if metric in measured:
        return measured[metric]
    if metric == "eval_loss":
        return last_eval["eval_loss"]
    return last_eval["token_accuracy"]  # config rules: a generated metric is only ever first


_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _reset_peak_rss() -> None:
    """Start this run's peak RSS afresh (Linux: writing 5 to clear_refs resets VmHWM), so a
    worker that ran earlier trials does not report their peak as this one's."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        pass


def _peak_memory(cuda: bool, torch: Any) -> tuple[int, str]:
    """Peak GPU allocation of this run on CUDA; else the process's peak RSS since
    `_reset_peak_rss` (Linux), or over its lifetime where that cannot be reset."""
    if cuda:
        return int(torch.cuda.max_memory_allocated()), "gpu"
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "rss"
    except (OSError, ValueError, IndexError):
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "rss"


def evaluate_loss(
    base: LoadedBase, model: Any, params: TrainParams, data: LoadedData, output_dir: Path
) -> float:
    """The loss of `model` (an adapter on `base`) on the val split, computed as a run does."""
    return float(_trainer(base, model, params, data, output_dir, [], False, False).evaluate()["eval_loss"])


def _trainer(
    base: LoadedBase,
    model: Any,
    params: TrainParams,
    data: LoadedData,
    output_dir: Path,
    callbacks: list[Any],
    eval_on_start: bool,
    save_checkpoints: bool,
    checkpoint_every: int = 0,
) -> Any:
    """TRL's SFTTrainer set up from `params`; one place, so training and evaluation agree."""
    import torch
    from transformers import PrinterCallback
    from transformers.utils import logging as hf_logging
    from trl import SFTConfig, SFTTrainer

    check_fit(base, data, params)
    hf_logging.set_verbosity_error()
    cuda = base.device == "cuda"
    bf16 = cuda and torch.cuda.is_bf16_supported()
    args = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=params.num_train_epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.per_device_train_batch_size,
        # the effective batch, not the micro-batch: eval takes no gradients, and the eval loss
        # (a mean of batch means) must not change when only the micro-batch does (batch_fit)
        per_device_eval_batch_size=params.per_device_train_batch_size * params.gradient_accumulation_steps,
        gradient_accumulation_steps=params.gradient_accumulation_steps,
        learning_rate=params.learning_rate,
        warmup_steps=params.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=params.weight_decay,
        lr_scheduler_type=params.lr_scheduler_type,
        optim=params.optim,
        activation_checkpointing=params.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        max_length=params.max_seq_length,
        eval_strategy="steps",
        eval_steps=params.eval_steps,
        eval_on_start=eval_on_start,
        prediction_loss_only=True,
        logging_steps=params.logging_steps,
        save_strategy="steps" if checkpoint_every or (save_checkpoints and params.save_steps) else "no",
        save_steps=checkpoint_every or params.save_steps or 500,
        save_total_limit=1 if checkpoint_every else None,  # a trial's: the last one resumes it
        seed=params.seed,
        data_seed=params.seed,
        bf16=bf16,
        fp16=cuda and not bf16,
        use_cpu=not cuda,
        include_num_input_tokens_seen="non_padding",
        packing=params.packing,
        use_liger_kernel=params.use_liger_kernel,
        report_to=params.report_to,
        run_name=run_name(output_dir),
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    key = (base.key, params.max_seq_length)
    prepared = data.prepared.get(key)
    if prepared is not None and not data.has_images:
        args.dataset_kwargs = {"skip_prepare_dataset": True}  # tokenized by the first trainer
    train, val = prepared or (to_dataset(data.train), to_dataset(data.val))
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=base.processor,
        callbacks=callbacks,
    )
    data.prepared[key] = (trainer.train_dataset, trainer.eval_dataset)
    # The observer reports progress; the trainer's own printing would only interleave with it.
    trainer.remove_callback(PrinterCallback)
    return trainer

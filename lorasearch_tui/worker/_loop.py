"""The trial worker: a process that keeps the base model loaded and trains one trial after another.

It loads the base model once per distinct model setting (`model_name`, `load_in_4bit`,
`max_seq_length`) and only puts a fresh LoRA adapter on it and takes it off per trial. It
reports every step and eval up the pipe and, after each eval, waits for the parent's decision
(prune or go on). It never touches the study: the parent is the only writer of the storage.

After an out-of-memory error or any other exception it reports the failure and exits, so the
parent starts a fresh worker with a clean GPU; a diverged or pruned trial leaves it running,
as long as the base model is exactly as it was loaded (checked after every trial).

After each trial, its memory freed, it measures what stayed held (GPU allocation, or RSS on the
CPU) beyond what it held right after the base model loaded, and says so in `finished` with the
base model's check: the parent decides whether to replace it before the next trial (the
memory guard, `--recycle-every`), so a worker never exits under a trial already sent to it.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from ..config import TrainParams
from ..data import LoadedData, data_key, load_data
from ..errors import UserError, is_disk_full
from ..events import EvalLogged, StepLogged
from ..training import RunResult, TrainingDiverged
from ._faults import ENV_VAR, Fault, parse_faults, trigger
from ._messages import (
    Alive,
    Decision,
    Exit,
    Failed,
    Finished,
    Loaded,
    Loading,
    Ready,
    Result,
    Run,
    Save,
    Saved,
    Started,
)
from ._protocol import Channel

_log = logging.getLogger("lorasearch.worker")
ALIVE_EVERY_S = 2.0  # how often a training worker says it is alive between steps


class _TrialObserver:
    """Sends a trial's steps and evals up the pipe; an eval waits for the parent's decision."""

    def __init__(self, channel: Channel, number: int, faults: list[Fault]) -> None:
        self._channel = channel
        self._number = number
        self._faults = faults
        self._last_sent = time.monotonic()
        self.pruned_at: int | None = None
        self.save_requested = False  # the parent's `save`: checkpoint at this step's end, stop
        self.saved_at: int | None = None  # the step of the trial's last checkpoint
        self._max_steps = 0

    def _send(self, message: Any) -> None:
        self._channel.send(message)
        self._last_sent = time.monotonic()

    def on_start(self, max_steps: int) -> None:
        self._max_steps = max_steps
        self._send(Started(trial=self._number, max_steps=max_steps))

    def on_step(self, step: int, loss: float, learning_rate: float) -> None:
        trigger(self._faults, self._number, step)
        self._send(StepLogged(self._number, step, self._max_steps, loss, learning_rate))

    def on_eval(self, step: int, eval_loss: float, value: float, scores: tuple[float, ...] = ()) -> None:
        self._send(EvalLogged(self._number, step, value, eval_loss=eval_loss, scores=scores))
        while True:
            message = self._channel.recv()  # EOFError (parent gone) ends the worker
            self._take(message)
            if isinstance(message, Decision) and message.step == step:
                break
        if message.prune:
            self.pruned_at = step

    def _take(self, message: Any) -> None:
        if isinstance(message, Save) and message.trial == self._number:
            self.save_requested = True

    def on_progress(self) -> None:
        """A micro-batch or an eval batch went through: say so now and then."""
        if time.monotonic() - self._last_sent >= ALIVE_EVERY_S:
            self._send(Alive(trial=self._number))

    def should_stop(self) -> bool:
        if self._channel.peer_closed():
            os._exit(1)  # the parent died: nobody wants this trial any more
        while self._channel.has_line():  # a command sent while the step ran (`save`)
            self._take(self._channel.recv(0))
        return self.pruned_at is not None or self.save_requested

    def should_save(self) -> bool:
        return self.save_requested

    def on_saved(self, step: int) -> None:
        self.saved_at = step


class Worker:
    """Serves `run` commands until `exit` or until the parent goes away."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._base: Any = None
        self._clean: Any = None  # the base model's signature right after loading
        self._held_after_load = 0  # memory held right after the base model loaded (bytes)
        self._data: tuple[tuple[Any, ...], LoadedData] | None = None
        self._faults = parse_faults(os.environ.get(ENV_VAR))
        self.reported = False  # a trial reported to W&B, MLflow or TensorBoard (report_to)

    def serve(self) -> None:
        self._channel.send(Ready(pid=os.getpid()))
        while True:
            try:
                message = self._channel.recv()
            except EOFError:
                return
            if message is None or isinstance(message, Exit):
                return
            if isinstance(message, Run) and not self._run(message):
                return

    def _run(self, command: Run) -> bool:
        """Run one trial; False when the worker must exit afterwards (after a failure)."""
        number = command.trial
        trial_dir = Path(command.trial_dir)
        failure: tuple[str, str, int | None, str] | None = None
        finished: Finished | None = None
        keep = True
        torch: Any = None
        try:
            params = TrainParams.model_validate(command.params)
            _hide_unused_wandb(params)
            import torch  # here, so a broken install fails the trial with its own words

            from ..training import lora_adapter, run_training

            self.reported = self.reported or params.report_to != "none"
            data = self._load_data(params)
            base = self._load_base(params)
            if command.resume_from is None:  # a folder used before (a study name used again)
                for stale in (trial_dir / "trainer").glob("checkpoint-*"):
                    shutil.rmtree(stale, ignore_errors=True)
            with lora_adapter(base, params) as model:
                observer = _TrialObserver(self._channel, number, self._faults)
                result = run_training(
                    base,
                    model,
                    params,
                    data,
                    trial_dir / "trainer",
                    observer,
                    checkpoint_every=command.checkpoint_every,
                    resume_from=Path(command.resume_from) if command.resume_from else None,
                )
                # stopped by the parent's `save` (a trial that reached its end first is a result)
                stopped = observer.save_requested and observer.pruned_at is None
                stopped = stopped and result.stopped_at is not None and result.steps < result.max_steps
                if observer.pruned_at is None and command.save_adapter and not stopped:
                    model.save_pretrained(trial_dir / "adapter")
                del model
            _remove_if_empty(trial_dir / "trainer")
            if stopped:  # the search is stopping: the checkpoint is what a rerun goes on from
                self._channel.send(Saved(trial=number, step=observer.saved_at))
                return False
            finished = Finished(
                trial=number,
                result=_measured(result),
                pruned_at=observer.pruned_at,
            )
            del result
        except TrainingDiverged as exc:
            failure = ("diverged", f"diverged: {exc}", None, "")
        except UserError as exc:
            failure = ("config", str(exc), None, "")
        except Exception as exc:  # every other failure ends this worker; the parent starts another
            keep = False
            failure = _describe_failure(exc, torch)
            _log.error("trial %d failed:\n%s", number, failure[3])
        # Out of the except blocks: the exception, its traceback and the trainer its frames
        # held are gone, so the memory below is really freed.
        if failure is not None:
            self._channel.send(
                Failed(
                    trial=number,
                    kind=failure[0],
                    reason=failure[1],
                    peak_memory=failure[2],
                    traceback=failure[3],
                )
            )
        if torch is not None:
            _free_memory(torch)
        if finished is not None:
            # what this trial left behind, measured once its memory is freed: the parent
            # replaces this worker before the next trial when it is too much
            held, capacity = _held_memory(torch)
            clean = self._base is None or self._base_is_clean()
            check = {
                "retained_bytes": max(held - self._held_after_load, 0),
                "capacity_bytes": capacity,
                "base_changed": not clean,
            }
            self._channel.send(replace(finished, result=replace(finished.result, **check)))
            return True  # the parent decides whether this worker goes on
        if keep and self._base is not None and not self._base_is_clean():
            return False
        return keep

    def _base_is_clean(self) -> bool:
        """The base model must be exactly as loaded; if a trial left anything on it, this
        worker ends and the parent starts a fresh one rather than train on a changed model."""
        from ..training import base_signature

        now = base_signature(self._base.model)
        if now != self._clean:
            _log.warning("the base model changed during the trial; this worker ends, a fresh one follows")
            return False
        return True

    def _load_base(self, params: TrainParams) -> Any:
        from ..training import base_signature, load_base, model_key

        if self._base is None or self._base.key != model_key(params):
            gc.unfreeze()
            self._base = None
            gc.collect()
            self._channel.send(Loading(model=params.model_name))
            self._base = load_base(params)
            self._clean = base_signature(self._base.model)
            import torch

            _free_memory(torch)
            # What lives as long as the base model (it, the libraries' ~500,000 objects, the
            # data) is left out of every later collection: the full collection after each
            # trial then looks only at what the trial made (0.25 s less per trial on a CPU).
            gc.freeze()
            self._held_after_load = _held_memory(torch)[0]
            self._channel.send(Loaded(model=params.model_name))
        return self._base

    def _load_data(self, params: TrainParams) -> LoadedData:
        key = data_key(params)
        if self._data is None or self._data[0] != key:
            changed = self._data is not None
            if changed:
                gc.unfreeze()  # the old data may go now (see _load_base)
                self._data = None
            # The search's parent decoded every image before the search started.
            self._data = (key, load_data(params, decode_images=False))
            if changed and self._base is not None:
                gc.collect()
                gc.freeze()  # as after the base model loads: the new data lives on
        return self._data[1]


def _hide_unused_wandb(params: TrainParams) -> None:
    """TRL imports wandb whenever it is installed, reporting or not: 0.6 s of every worker's
    start on a CPU core. Before the training libraries are first imported, a worker whose
    trials do not report to W&B marks it absent (None in `sys.modules`: `import wandb` fails
    and `importlib.util.find_spec`, which is how Transformers and TRL look for it, finds
    nothing). A search's trials share `report_to` (it cannot be searched: `parse_config`), so
    a worker never needs it later."""
    if params.report_to != "wandb" and "trl" not in sys.modules and "wandb" not in sys.modules:
        sys.modules["wandb"] = None  # type: ignore[assignment]


def _describe_failure(exc: Exception, torch: Any) -> tuple[str, str, int | None, str]:
    """kind, reason, peak memory and traceback of a failed trial (`torch` None: it did not import)."""
    tb = traceback.format_exc()
    if is_disk_full(exc):
        where = getattr(exc, "filename", None)
        return "disk_full", f"no space left on device{f' writing {where}' if where else ''}", None, tb
    if torch is None:
        return "exception", f"{type(exc).__name__}: {exc}"[:2000], None, tb
    oom = isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()
    peak = _peak_memory(torch)
    if oom:
        return "oom", f"out of memory (peak {peak / 2**30:.2f} GiB)", peak, tb
    return "exception", f"{type(exc).__name__}: {exc}"[:2000], peak, tb


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _free_memory(torch: Any) -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _held_memory(torch: Any) -> tuple[int, int]:
    """What this process holds now and what it could hold: the GPU's allocation and size on
    CUDA, else the resident set and the host's memory."""
    if torch is not None and torch.cuda.is_available():
        return int(torch.cuda.memory_allocated()), int(torch.cuda.get_device_properties(0).total_memory)
    import psutil

    return int(psutil.Process().memory_info().rss), int(psutil.virtual_memory().total)


def _peak_memory(torch: Any) -> int:
    import resource

    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (even by `kill -9`)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF still ends the worker
        pass


def _measured(result: RunResult) -> Result:
    """What the run measured, as the pipe carries it: every field of `Result` the run has, by
    name (a new figure is a field of both and needs no code here)."""
    return Result(**{f.name: getattr(result, f.name) for f in fields(Result) if hasattr(result, f.name)})

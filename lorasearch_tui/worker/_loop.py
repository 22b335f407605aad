"""The trial worker: a process that keeps the base model loaded and trains one trial after another.

It loads the base model once per distinct model setting (`model_name`, `load_in_4bit`,
`max_seq_length`) and only puts a fresh LoRA adapter on it and takes it off per trial. It
reports every step and eval up the pipe and, after each eval, waits for the parent's decision
(prune or go on). It never touches the study: the parent is the only writer of the storage.

After an out-of-memory error or any other exception it reports the failure and exits, so the
parent starts a fresh worker with a clean GPU; a diverged or pruned trial leaves it running.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import traceback
from pathlib import Path
from typing import Any

from ..config import TrainParams
from ..data import LoadedData, load_data
from ..errors import UserError
from ._faults import ENV_VAR, Fault, parse_faults, trigger
from ._protocol import Channel

_log = logging.getLogger("lorasearch.worker")


class _TrialObserver:
    """Sends a trial's steps and evals up the pipe; an eval waits for the parent's decision."""

    def __init__(self, channel: Channel, number: int, faults: list[Fault]) -> None:
        self._channel = channel
        self._number = number
        self._faults = faults
        self.pruned_at: int | None = None

    def on_start(self, max_steps: int) -> None:
        self._channel.send({"event": "started", "trial": self._number, "max_steps": max_steps})

    def on_step(self, step: int, loss: float, learning_rate: float) -> None:
        trigger(self._faults, self._number, step)
        self._channel.send(
            {"event": "step", "trial": self._number, "step": step, "loss": loss, "lr": learning_rate}
        )

    def on_eval(self, step: int, eval_loss: float) -> None:
        self._channel.send({"event": "eval", "trial": self._number, "step": step, "value": eval_loss})
        while True:
            message = self._channel.recv()  # EOFError (parent gone) ends the worker
            if message and message.get("cmd") == "decision" and message.get("step") == step:
                break
        if message.get("prune"):
            self.pruned_at = step

    def should_stop(self) -> bool:
        if self._channel.peer_closed():
            os._exit(1)  # the parent died: nobody wants this trial any more
        return self.pruned_at is not None


class Worker:
    """Serves `run` commands until `exit` or until the parent goes away."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._base: Any = None
        self._data: tuple[tuple[str, ...], LoadedData] | None = None
        self._faults = parse_faults(os.environ.get(ENV_VAR))

    def serve(self) -> None:
        self._channel.send({"event": "ready", "pid": os.getpid()})
        while True:
            try:
                message = self._channel.recv()
            except EOFError:
                return
            if message is None or message.get("cmd") == "exit":
                return
            if message.get("cmd") == "run" and not self._run(message):
                return

    def _run(self, message: dict[str, Any]) -> bool:
        """Run one trial; False when the worker must exit afterwards (after a failure)."""
        import torch

        from ..training import TrainingDiverged, lora_adapter, run_training

        number = message["trial"]
        trial_dir = Path(message["trial_dir"])
        try:
            params = TrainParams.model_validate(message["params"])
            data = self._load_data(params)
            base = self._load_base(params)
            with lora_adapter(base, params) as model:
                observer = _TrialObserver(self._channel, number, self._faults)
                result = run_training(base, model, params, data, trial_dir / "trainer", observer)
                if observer.pruned_at is None and message.get("save_adapter", True):
                    model.save_pretrained(trial_dir / "adapter")
            _remove_if_empty(trial_dir / "trainer")
            self._channel.send(
                {
                    "event": "finished",
                    "trial": number,
                    "result": result.to_dict(),
                    "pruned_at": observer.pruned_at,
                }
            )
            _free_memory(torch)
            return True
        except TrainingDiverged as exc:
            self._fail(number, "diverged", f"diverged: {exc}")
            _free_memory(torch)
            return True
        except UserError as exc:
            self._fail(number, "config", str(exc))
            return True
        except Exception as exc:  # every other failure ends this worker; the parent starts another
            oom = isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()
            peak = _peak_memory(torch)
            reason = f"out of memory (peak {peak / 2**30:.2f} GiB)" if oom else f"{type(exc).__name__}: {exc}"
            _log.error("trial %d failed:\n%s", number, traceback.format_exc())
            self._fail(number, "oom" if oom else "exception", reason, peak, traceback.format_exc())
            return False

    def _fail(self, number: int, kind: str, reason: str, peak: int | None = None, tb: str = "") -> None:
        self._channel.send(
            {
                "event": "failed",
                "trial": number,
                "kind": kind,
                "reason": reason,
                "peak_memory": peak,
                "traceback": tb,
            }
        )

    def _load_base(self, params: TrainParams) -> Any:
        from ..training import load_base, model_key

        if self._base is None or self._base.key != model_key(params):
            self._base = None
            gc.collect()
            self._channel.send({"event": "loading", "model": params.model_name})
            self._base = load_base(params)
            self._channel.send({"event": "loaded", "model": params.model_name})
        return self._base

    def _load_data(self, params: TrainParams) -> LoadedData:
        key = (params.input_data, params.instruction, params.train_split, params.val_split)
        if self._data is None or self._data[0] != key:
            self._data = (key, load_data(params))
        return self._data[1]


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _free_memory(torch: Any) -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


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

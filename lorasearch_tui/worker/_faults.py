"""Fault injection, a documented test hook: make a chosen trial fail at a chosen step.

Set `LORASEARCH_INJECT_FAULT` in the environment of `lorasearch search` (the worker inherits
it) to a comma-separated list of `KIND@TRIAL:STEP`, for example `exception@1:3,oom@2:2`:
trial 1 raises an exception at its step 3, trial 2 runs out of memory at step 2. Kinds:

- `exception`: a RuntimeError, as a bug in a data collator would raise;
- `oom`: a `torch.OutOfMemoryError`, the error CUDA raises;
- `crash`: the worker process is killed on the spot (SIGKILL, as by `kill -9` or the kernel's
  out-of-memory killer);
- `diverge`: the train loss becomes NaN (the run stops as a diverged one does);
- `orphan`: the worker starts a child that keeps the pipe open and sleeps, then is killed;
  the parent must notice the death although the pipe stays open, and kill the child;
- `hang`: the worker stops at that step and says nothing more, as in a stuck CUDA call or a
  deadlocked data loader (the trial stays RUNNING until a limit, a key or a signal ends it);
- `hog`: the worker asks CUDA for more memory than the GPU has, and the allocator raises its
  own out-of-memory error (not a made-up one: the GPU check follows it from CUDA to the OOM
  record); on the CPU it is an error saying so.

The worker acts on it; the search checks it (a malformed value stops it with exit code 2)
and says it loudly: on the console, in the terminal UI's header and in the study's user
attribute `lorasearch_fault_injection`, so that fake failures never pass for real ones.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from ..events import FAULT_ENV_VAR as ENV_VAR  # named with the events: front ends show it

KINDS = ("exception", "oom", "crash", "diverge", "orphan", "hang", "hog")


@dataclass(frozen=True)
class Fault:
    kind: str
    trial: int
    step: int


def parse_faults(text: str | None) -> list[Fault]:
    """Faults from the variable's text; a malformed entry is an error, not silently ignored."""
    faults = []
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        try:
            kind, where = item.split("@")
            trial, step = where.split(":")
            fault = Fault(kind, int(trial), int(step))
        except ValueError:
            raise ValueError(f"{ENV_VAR}: '{item}' is not KIND@TRIAL:STEP") from None
        if fault.kind not in KINDS:
            raise ValueError(f"{ENV_VAR}: unknown kind '{fault.kind}'; use one of {', '.join(KINDS)}")
        faults.append(fault)
    return faults


def trigger(faults: list[Fault], trial: int, step: int) -> None:
    """Fail now if a fault is set for this trial and step."""
    for fault in faults:
        if fault.trial == trial and fault.step == step:
            if fault.kind == "crash":
                os.kill(os.getpid(), signal.SIGKILL)
            if fault.kind == "hang":
                while True:
                    time.sleep(3600)
            if fault.kind == "diverge":
                from ..training import TrainingDiverged

                raise TrainingDiverged(step, "train loss", float("nan"))
            if fault.kind == "orphan":
                if os.fork() == 0:  # the child inherits the pipe's ends and keeps them open
                    time.sleep(600)
                    os._exit(0)
                os.kill(os.getpid(), signal.SIGKILL)
            if fault.kind == "hog":
                _hog_the_gpu()
            if fault.kind == "oom":
                import torch

                raise torch.OutOfMemoryError(
                    f"CUDA out of memory. Tried to allocate 2.00 GiB (injected by {ENV_VAR})"
                )
            raise RuntimeError(f"injected fault at step {step} ({ENV_VAR})")


def _hog_the_gpu() -> None:
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f"{ENV_VAR}: 'hog' fills a GPU's memory, and there is no GPU")
    _, total = torch.cuda.mem_get_info()
    torch.empty(2 * total, dtype=torch.uint8, device="cuda")  # raises torch.OutOfMemoryError

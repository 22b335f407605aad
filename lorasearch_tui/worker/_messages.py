"""The messages of the pipe between the search (parent) and its trial worker: one schema each.

The parent trusts nothing that comes up the pipe: a worker can be killed mid-line, be a
different version, or be broken by a library printing into the wrong file descriptor. Every
line is decoded and validated against the schema of its `event` (strict types, finite
numbers, no unknown fields); a line that fails is a `ProtocolError`, which fails the running
trial with what was wrong and replaces the worker. The worker validates the parent's commands
the same way.

Worker -> parent: `ready`, `loading`, `loaded`, `started`, `alive` (a sign of life while a
long step or eval runs), `step` and `eval` (the events `StepLogged` and `EvalLogged` of
`lorasearch_tui.events`, unchanged), `finished`, `failed`, `saved` (after `save`).
Parent -> worker: `run`, `decision` (after each eval: prune or go on), `save` (the search is
stopping: checkpoint the trial at the end of its step and stop it), `exit`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..events import Codec, EvalLogged, RecordError, StepLogged, keyword_record

MAX_LINE = 16 * 2**20  # bytes; a message is a few hundred, a run command a few thousand


class ProtocolError(RuntimeError):
    """A line on the pipe that is not a valid message."""


class _Message:
    """A message of the pipe: a keyword-built record of the events' kind (`keyword_record`)."""


@keyword_record
class _TrialMessage(_Message):
    trial: int = Field(ge=0)


@keyword_record
class Ready(_Message):
    event: Literal["ready"] = "ready"
    pid: int


@keyword_record
class Loading(_Message):
    event: Literal["loading"] = "loading"
    model: str


@keyword_record
class Loaded(_Message):
    event: Literal["loaded"] = "loaded"
    model: str


@keyword_record
class Started(_TrialMessage):
    event: Literal["started"] = "started"
    max_steps: int = Field(ge=0)


@keyword_record
class Alive(_TrialMessage):
    """Sent at most every few seconds while the trial makes progress (micro-batches, eval
    batches), so the parent can tell a long step from a frozen worker."""

    event: Literal["alive"] = "alive"


@keyword_record
class Result(_Message):
    """What a finished run measured (its curves came as `step` and `eval` messages)."""

    eval_loss: float | None
    value: float | None = None  # the objective's value for the final adapter (the trial's result)
    values: list[float] | None = None  # every objective's, in the config's order (several objectives)
    generate_s: float = Field(0.0, ge=0)  # time spent generating answers for the metric
    steps: int = Field(ge=0)
    max_steps: int = Field(ge=0)
    runtime_s: float = Field(ge=0)
    tokens_per_s: float = Field(ge=0)
    peak_memory_bytes: int = Field(ge=0)
    memory_kind: Literal["gpu", "rss"]
    # the memory guard: what stayed held after the trial beyond what the worker held right
    # after loading the base (GPU allocation, or RSS), the device's (or host's) size, and
    # whether the base model changed; the parent replaces the worker on any of them
    retained_bytes: int | None = Field(None, ge=0)
    capacity_bytes: int | None = Field(None, ge=0)
    base_changed: bool = False
    batch: str = ""  # micro-batch x accumulation it trained with ("4x1 fitted")
    early_stopped_at: int | None = Field(None, ge=0)  # early_stopping_patience ran out here


@keyword_record
class Finished(_TrialMessage):
    event: Literal["finished"] = "finished"
    result: Result
    pruned_at: int | None = Field(None, ge=0)


FailureKind = Literal["oom", "exception", "diverged", "config", "disk_full"]


@keyword_record
class Failed(_TrialMessage):
    event: Literal["failed"] = "failed"
    kind: FailureKind
    reason: str = Field(max_length=4000)
    peak_memory: int | None = Field(None, ge=0)
    traceback: str = ""


@keyword_record
class Saved(_TrialMessage):
    """The trial stopped at the parent's `save`, its checkpoint written at `step` (None: it
    stopped before any checkpoint could be written)."""

    event: Literal["saved"] = "saved"
    step: int | None = Field(None, ge=0)


# A trial's steps and evals travel as the engine's own events (one format from the worker to
# `metrics.jsonl` and every view); the rest is the pipe's own business.
WorkerMessage = (
    Ready | Loading | Loaded | Started | Alive | StepLogged | EvalLogged | Finished | Failed | Saved
)


@keyword_record
class Run(_Message):
    cmd: Literal["run"] = "run"
    trial: int = Field(ge=0)
    params: dict[str, Any]
    trial_dir: str
    save_adapter: bool = True
    checkpoint_every: int = Field(0, ge=0)  # steps between a trial's checkpoints (0: none)
    resume_from: str | None = None  # the checkpoint a rerun of a lost trial goes on from


@keyword_record
class Decision(_Message):
    cmd: Literal["decision"] = "decision"
    trial: int = Field(ge=0)
    step: int = Field(ge=0)
    prune: bool


@keyword_record
class Save(_Message):
    """Checkpoint trial `trial` at the end of the step it is in, then stop it (`saved`)."""

    cmd: Literal["save"] = "save"
    trial: int = Field(ge=0)


@keyword_record
class Exit(_Message):
    cmd: Literal["exit"] = "exit"


_WORKER_MESSAGES = Codec(WorkerMessage, "event", "message")
_COMMANDS = Codec(Run | Decision | Save | Exit, "cmd", "message")


def encode(message: Any) -> bytes:
    """One line of JSON (strict: a NaN cannot be written, the record already refused it)."""
    return Codec.encode(message)


def decode_message(line: bytes) -> Any:
    """A worker's message from one line. Raises ProtocolError."""
    return _decode(_WORKER_MESSAGES, line)


def decode_command(line: bytes) -> Any:
    """A parent's command from one line. Raises ProtocolError."""
    return _decode(_COMMANDS, line)


def _decode(codec: Codec, line: bytes) -> Any:
    try:
        return codec.decode(line)
    except RecordError as exc:
        shown = line[:80].decode("utf-8", "replace")
        raise ProtocolError(f"{exc} in {shown!r}") from None

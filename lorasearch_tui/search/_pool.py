"""The search's worker slots, one per placement: built from the options, waited on together.

The loop asks the pool which slots are busy or idle, which one runs a given trial (the `a` key
names one), and waits on every busy worker's pipe at once, for at most a poll.
"""

from __future__ import annotations

import select
import time
from pathlib import Path

from ..events import POLL_S, Sink
from ..options import SearchOptions
from ..worker import WORKER_COMMAND, WorkerProcess
from ._memory_guard import GIB, MemoryGuard
from ._placement import Placement
from ._slot import WorkerSlot


def worker_log_name(index: int) -> str:
    """`worker.log` for the first worker, `worker-1.log` and on for the others."""
    return "worker.log" if index == 0 else f"worker-{index}.log"


class WorkerPool:
    """The slots of one search; their workers start when their first trial does."""

    def __init__(
        self, placements: list[Placement], study_dir: Path, options: SearchOptions, sink: Sink
    ) -> None:
        self.logs = [study_dir / worker_log_name(index) for index in range(len(placements))]
        above = int(options.recycle_above * GIB) if options.recycle_above is not None else None
        self.slots = [
            WorkerSlot(
                index,
                placement,
                WorkerProcess(self.logs[index], options.worker_command or WORKER_COMMAND, placement.env),
                sink,
                options.stall_limit,
                MemoryGuard(options.recycle_every, above),
            )
            for index, placement in enumerate(placements)
        ]

    def busy(self) -> list[WorkerSlot]:
        return [s for s in self.slots if s.busy]

    def idle(self) -> list[WorkerSlot]:
        return [s for s in self.slots if not s.busy]

    def running(self, number: int | None) -> WorkerSlot | None:
        """The slot running trial `number`, or the trial started last when None."""
        busy = self.busy()
        if number is None:
            return max(busy, key=lambda s: s.live.started, default=None)  # type: ignore[union-attr]
        return next((s for s in busy if s.live is not None and s.live.number == number), None)

    def pids(self) -> list[int]:
        """The workers the hardware pane samples: every one that is running."""
        return [pid for slot in self.slots if (pid := slot.worker.pid) is not None]

    def wait(self) -> None:
        """Until a worker has something to say, for at most a poll."""
        busy = self.busy()
        if any(s.wants_reading() for s in busy):
            return
        fds = [fd for s in busy if (fd := s.worker.fileno()) is not None]
        if fds:
            select.select(fds, [], [], POLL_S)
        else:
            time.sleep(POLL_S)

    def stop(self) -> None:
        for slot in self.slots:
            slot.worker.stop()

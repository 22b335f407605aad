"""When a trial worker is replaced although nothing failed: the memory guard and recycling.

A worker keeps the base model loaded across trials, which is what makes a trial cheap; but a
long search in one process leaks (on an H200, 1.9 GB stayed allocated per unloaded 12B adapter,
measured with plain PEFT). After each trial the worker reports what stayed held beyond what it held right
after loading the base (GPU allocation, or RSS on the CPU); above `above_bytes` (default: 5% of
the GPU, or 1 GiB on the CPU), or every `every` trials, or when the base model changed, the
parent replaces it before the next trial. A fresh worker trains exactly as the old one would
have (the same base, loaded from the same files): only the load time is spent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 2**30
GPU_SHARE = 0.05  # of the GPU's memory
CPU_LIMIT = 1 * GIB


@dataclass(frozen=True)
class MemoryGuard:
    every: int | None = None  # replace the worker after this many trials (--recycle-every)
    above_bytes: int | None = None  # replace it when more than this stayed (--recycle-above)

    def limit(self, result: Any) -> int:
        """The bytes a trial may leave behind: the setting, else 5% of the GPU or 1 GiB."""
        if self.above_bytes is not None:
            return self.above_bytes
        if result.memory_kind == "gpu" and result.capacity_bytes:
            return int(result.capacity_bytes * GPU_SHARE)
        return CPU_LIMIT

    def reason(self, result: Any, trials_on_worker: int) -> str | None:
        """Why the worker that just finished a trial must be replaced, or None.

        Args:
            result: the worker's `Result` (retained_bytes, capacity_bytes, base_changed).
            trials_on_worker: trials this worker process has finished, this one included.
        """
        if result.base_changed:
            return "the base model changed during the trial"
        retained = result.retained_bytes
        if retained is not None and retained > self.limit(result):
            where = "allocated on the GPU" if result.memory_kind == "gpu" else "resident"
            return (
                f"{retained / GIB:.2f} GiB stayed {where} after the trial, more than "
                f"{self.limit(result) / GIB:.2f} GiB"
            )
        if self.every is not None and trials_on_worker >= self.every:
            trials = f"{trials_on_worker} trial{'s' if trials_on_worker > 1 else ''}"
            return f"after {trials} (--recycle-every {self.every})"
        return None

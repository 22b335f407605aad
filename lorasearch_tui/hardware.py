"""Hardware samples for the front ends: GPU memory through NVML, else host memory through psutil.

NVML (`nvidia-ml-py`, the library nvitop reads) is optional: without it, or without an NVIDIA
GPU, a sample carries host memory and the worker's RSS with a note saying so. Sampling runs in
the parent, which never imports torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import psutil

from .events import HardwareSampled

NO_GPU_NOTE = "no NVIDIA GPU found: showing host memory"
CUDA_VISIBLE = "CUDA_VISIBLE_DEVICES"


def visible_devices(spec: str | None, uuids: list[str]) -> list[int]:
    """The NVML indices of the GPUs a CUDA process sees, in its order.

    Args:
        spec: its `CUDA_VISIBLE_DEVICES` (None: unset, every GPU). Entries are indices or UUIDs
            (`GPU-...`/`MIG-...`, or a prefix that matches one GPU only); as CUDA does, the
            list ends at the first entry that names no GPU, so `""` and `-1` mean none.
        uuids: the UUID of each GPU, by NVML index. Indices are taken in NVML's (PCI bus)
            order, which is CUDA's with `CUDA_DEVICE_ORDER=PCI_BUS_ID`; UUIDs are exact.
    """
    if spec is None:
        return list(range(len(uuids)))
    chosen: list[int] = []
    for entry in (e.strip() for e in spec.split(",")):
        if entry.startswith(("GPU-", "MIG-")):
            matches = [i for i, uuid in enumerate(uuids) if uuid.startswith(entry)]
            if len(matches) != 1:
                break
            index = matches[0]
        elif entry.isdigit() and int(entry) < len(uuids):
            index = int(entry)
        else:
            break
        if index not in chosen:
            chosen.append(index)
    return chosen


class Nvml:
    def __init__(self) -> None:
        self.ok = False
        self.uuids: list[str] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self.count = pynvml.nvmlDeviceGetCount()
            self.uuids = [
                str(_safe(pynvml.nvmlDeviceGetUUID, pynvml.nvmlDeviceGetHandleByIndex(i)) or "")
                for i in range(self.count)
            ]
            self.ok = self.count > 0
        except Exception:  # no library, no driver, no GPU: all mean "host memory only"
            self.count = 0

    def sample(
        self, worker_pid: int | None | list[int], visible: str | None | list[str | None] = None
    ) -> tuple[dict[str, Any], ...]:
        """The GPUs the workers see (`visible`: each one's CUDA_VISIBLE_DEVICES), in their order."""
        nvml, gpus = self._nvml, []
        pids = set(_as_list(worker_pid))
        indices: list[int] = []
        for spec in visible if isinstance(visible, list) else [visible]:
            indices += [i for i in visible_devices(spec, self.uuids) if i not in indices]
        for index in indices:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            rates = _safe(nvml.nvmlDeviceGetUtilizationRates, handle)
            power_mw = _safe(nvml.nvmlDeviceGetPowerUsage, handle)
            gpu: dict[str, Any] = {
                "index": index,
                "name": _safe(nvml.nvmlDeviceGetName, handle),
                "used_bytes": int(memory.used),
                "total_bytes": int(memory.total),
                "utilization": rates.gpu if rates is not None else None,
                "temperature_c": _safe(nvml.nvmlDeviceGetTemperature, handle, 0),
                "power_w": power_mw / 1000 if power_mw is not None else None,
            }
            procs = _safe(nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
            gpu["worker_bytes"] = sum(int(p.usedGpuMemory or 0) for p in procs if p.pid in pids)
            gpus.append(gpu)
        return tuple(gpus)


def _safe(read: Callable[..., Any], *args: Any) -> Any:
    try:
        return read(*args)
    except Exception:  # a field this GPU or driver does not report
        return None


def _as_list(pids: int | None | list[int]) -> list[int]:
    if pids is None:
        return []
    return [pids] if isinstance(pids, int) else [p for p in pids if p is not None]


def sample_hardware(nvml: Nvml, worker_pid: int | None | list[int]) -> HardwareSampled:
    """One sample now, of the GPUs the workers see (each by its own CUDA_VISIBLE_DEVICES); the
    workers' memory is their sum."""
    memory = psutil.virtual_memory()
    rss = None
    visible: list[str | None] = []
    for pid in _as_list(worker_pid):
        try:
            worker = psutil.Process(pid)
            rss = (rss or 0) + worker.memory_info().rss
            visible.append(worker.environ().get(CUDA_VISIBLE))
        except psutil.Error:
            pass
    if not visible:
        visible = [os.environ.get(CUDA_VISIBLE)]  # what a worker started from here inherits
    gpus = nvml.sample(worker_pid, visible) if nvml.ok else ()
    return HardwareSampled(
        gpus=gpus,
        host_used_bytes=int(memory.total - memory.available),
        host_total_bytes=int(memory.total),
        worker_rss_bytes=rss,
        note="" if nvml.ok else NO_GPU_NOTE,
    )


class HardwareMonitor:
    """A daemon thread that emits a sample every `interval` seconds until stopped."""

    def __init__(
        self,
        emit: Callable[[HardwareSampled], None],
        worker_pid: Callable[[], int | None | list[int]],
        interval: float = 1.0,
    ) -> None:
        self._emit = emit
        self._worker_pid = worker_pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hardware-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        nvml = Nvml()
        while not self._stop.is_set():
            self._emit(sample_hardware(nvml, self._worker_pid()))
            self._stop.wait(self._interval)

"""The GPU pane's samples follow the GPUs the worker sees (its CUDA_VISIBLE_DEVICES, by index or
UUID), not physical GPU 0. There is no NVIDIA GPU here: NVML is a scripted stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from lorasearch_tui.hardware import NO_GPU_NOTE, Nvml, sample_hardware, visible_devices

UUIDS = ["GPU-0a0a-1111", "GPU-1b1b-2222", "GPU-2c2c-3333", "GPU-2d2d-4444"]


@pytest.mark.parametrize(
    ("spec", "seen"),
    [
        (None, [0, 1, 2, 3]),
        ("2", [2]),
        ("3,1", [3, 1]),
        ("GPU-2d2d-4444", [3]),
        ("GPU-1b", [1]),  # a prefix naming one GPU
        ("GPU-2", []),  # a prefix naming two: CUDA stops there
        ("1,7,2", [1]),  # the list ends at the first entry that names no GPU
        ("", []),
        ("-1", []),
    ],
)
def test_visible_devices_read_cuda_visible_devices_as_cuda_does(spec, seen):
    assert visible_devices(spec, UUIDS) == seen


def fake_nvml(worker_pid: int) -> types.ModuleType:
    """Four GPUs; GPU i uses i GiB; the worker runs on GPU 3 with 2 GiB."""
    nvml = types.ModuleType("pynvml")
    gib = 2**30
    nvml.nvmlInit = lambda: None
    nvml.nvmlDeviceGetCount = lambda: 4
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i
    nvml.nvmlDeviceGetUUID = lambda h: UUIDS[h]
    nvml.nvmlDeviceGetName = lambda h: f"Stand-in GPU {h}"
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=h * gib, total=80 * gib)
    nvml.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=10 * h)
    nvml.nvmlDeviceGetTemperature = lambda h, sensor: 40 + h
    nvml.nvmlDeviceGetPowerUsage = lambda h: 100_000 * h
    nvml.nvmlDeviceGetComputeRunningProcesses = lambda h: (
        [types.SimpleNamespace(pid=worker_pid, usedGpuMemory=2 * gib)] if h == 3 else []
    )
    return nvml


def test_the_sample_follows_the_workers_own_cuda_visible_devices(monkeypatch):
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "GPU-2d2d-4444,1"},
    )
    try:
        monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(worker.pid))
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # the parent sees all four
        sample = sample_hardware(Nvml(), worker.pid)
    finally:
        worker.kill()
        worker.wait()
    assert [g["index"] for g in sample.gpus] == [3, 1]  # the pane's history follows the first
    assert sample.gpus[0]["used_bytes"] == 3 * 2**30 and sample.gpus[0]["worker_bytes"] == 2 * 2**30
    assert sample.note != NO_GPU_NOTE


def test_without_a_worker_the_parents_cuda_visible_devices_decide(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(-1))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    assert [g["index"] for g in sample_hardware(Nvml(), None).gpus] == [2]


def test_without_an_nvidia_gpu_the_sample_shows_host_memory_and_says_so(monkeypatch):
    """NVML that finds no driver, as on this machine, and on a GPU host too (stand-in)."""
    nvml = types.ModuleType("pynvml")

    def no_driver() -> None:
        raise RuntimeError("NVML Shared Library Not Found")

    nvml.nvmlInit = no_driver
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sample = sample_hardware(Nvml(), os.getpid())
    assert sample.gpus == () and sample.note == NO_GPU_NOTE
    assert 0 < sample.host_used_bytes <= sample.host_total_bytes and sample.worker_rss_bytes > 0


def test_with_several_workers_the_sample_covers_each_ones_gpus(monkeypatch):
    """One worker per GPU (`--gpus`): the pane shows every GPU a worker uses, in the workers'
    order, with the workers' memory on each."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)"],
            env={**os.environ, "CUDA_VISIBLE_DEVICES": spec},
        )
        for spec in ("GPU-2d2d-4444", "GPU-0a0a-1111")
    ]
    try:
        monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(workers[0].pid))
        sample = sample_hardware(Nvml(), [w.pid for w in workers])
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert [g["index"] for g in sample.gpus] == [3, 0]
    assert sample.gpus[0]["worker_bytes"] == 2 * 2**30 and sample.gpus[1]["worker_bytes"] == 0
    assert sample.worker_rss_bytes > 0

"""Where the trial workers run: one per GPU (or K per large GPU), or N on the CPU.

`--gpus 0,1,3` (or `all`, the default where NVML finds a GPU) names GPUs as `nvidia-smi`
numbers them, or, when `CUDA_VISIBLE_DEVICES` is set, by their place in that list, as torch
would number them; each worker sees only its own GPU. A GPU is pinned by its UUID, which
means the same GPU whatever order CUDA enumerates them in. On a CPU, `--workers N` runs N
workers and gives each an equal share of the cores for torch's threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import UserError
from ..hardware import CUDA_VISIBLE, Nvml, visible_devices

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Placement:
    """Where a worker runs: a label for people (`GPU 1`, `CPU 0`) and its environment
    (`CUDA_VISIBLE_DEVICES` pinned to its GPU, or torch's thread count on a CPU)."""

    label: str
    env: dict[str, str] = field(default_factory=dict)


def plan_workers(
    gpus: str | None,
    workers: int | None,
    trials_per_gpu: int,
    uuids: list[str] | None = None,
    visible: str | None = None,
    cores: int | None = None,
) -> list[Placement]:
    """The workers to start, one Placement each.

    Args:
        gpus: `--gpus` as given (`all`, `none`, or a comma-separated list); None: `all` where
            there is a GPU, else the CPU.
        workers: `--workers` as given (None: 1 on the CPU).
        trials_per_gpu: workers per GPU.
        uuids: the GPUs' UUIDs by NVML index (None: asked from NVML); [] means no GPU.
        visible: `CUDA_VISIBLE_DEVICES` (default: this process's).
        cores: CPU cores to share (default: those this process may run on).

    Raises:
        UserError: a GPU that is not there, a count below 1, or flags that contradict.
    """
    if uuids is None:
        nvml = Nvml()
        uuids = nvml.uuids if nvml.ok else []
    if visible is None:
        visible = os.environ.get(CUDA_VISIBLE)
    if trials_per_gpu < 1:
        raise UserError(f"--trials-per-gpu: must be 1 or more, not {trials_per_gpu}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers: must be 1 or more, not {workers}")
    seen = visible_devices(visible, uuids)  # NVML indices, in the order CUDA numbers them
    use_gpus = gpus != "none" and (gpus is not None or bool(seen))
    if use_gpus:
        return _on_gpus(gpus, workers, trials_per_gpu, seen, uuids, visible)
    if trials_per_gpu != 1:
        raise UserError("--trials-per-gpu: there is no GPU in use here; use --workers N on the CPU")
    return _on_the_cpu(workers or 1, cores or len(os.sched_getaffinity(0)))


def _on_gpus(
    gpus: str | None,
    workers: int | None,
    trials_per_gpu: int,
    seen: list[int],
    uuids: list[str],
    visible: str | None,
) -> list[Placement]:
    """`trials_per_gpu` workers on each chosen GPU, each pinned by `CUDA_VISIBLE_DEVICES`."""
    if not seen:
        raise UserError(
            f"--gpus {gpus}: no NVIDIA GPU is visible here"
            + (f" ({CUDA_VISIBLE}={visible})" if visible is not None else "")
            + "; use --workers N to run on the CPU"
        )
    if workers is not None:
        raise UserError(
            "--workers: on GPUs the workers follow --gpus and --trials-per-gpu; give one or the other"
        )
    chosen = _chosen(gpus or "all", len(seen))
    entries = [e.strip() for e in visible.split(",")] if visible is not None else None
    placements = []
    for position in chosen:
        index = seen[position]
        pin = entries[position] if entries is not None else uuids[index] or str(index)
        for _ in range(trials_per_gpu):
            placements.append(Placement(f"GPU {index}", {CUDA_VISIBLE: pin}))
    return placements


def _on_the_cpu(count: int, cores: int) -> list[Placement]:
    """`count` workers sharing the cores: each gets an equal share of threads, unless the user
    set the thread variables themselves."""
    env: dict[str, str] = {}
    if count > 1 and not any(name in os.environ for name in THREAD_VARS):
        share = str(max(1, cores // count))
        env = {name: share for name in THREAD_VARS}
    if count == 1:
        return [Placement("CPU", env)]
    return [Placement(f"CPU {i}", dict(env)) for i in range(count)]


def _chosen(spec: str, count: int) -> list[int]:
    """Positions among the visible GPUs, from `all` or `0,1,3`."""
    if spec == "all":
        return list(range(count))
    chosen: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part.isdigit():
            raise UserError(f"--gpus: '{part}' is not a GPU number; give numbers like 0,1,3, or all")
        position = int(part)
        if position >= count:
            raise UserError(f"--gpus: there is no GPU {position}; {count} visible (0 to {count - 1})")
        if position in chosen:
            raise UserError(f"--gpus: GPU {position} is named twice; use --trials-per-gpu for more on one")
        chosen.append(position)
    if not chosen:
        raise UserError("--gpus: name at least one GPU, or all")
    return chosen

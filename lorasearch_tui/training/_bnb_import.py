"""Import bitsandbytes without the second of imports its `torch.compile` wrappers cost.

bitsandbytes 0.50 decorates its CPU kernels (blockwise dequantization, its optimizers) with
`torch.compile` at import. Compiling is lazy in torch already (nothing compiles before a first
call), but `torch.compile` itself imports TorchDynamo and Inductor's `compile_fx`: ~0.9 s of a
core in every process that loads a 4-bit model (a search's worker, `lorasearch train`,
`evaluate`), before the first training step, on a path 4-bit QLoRA training never calls on the
CPU and never on CUDA (bitsandbytes' CUDA kernels take over there). Deferring the
`torch.compile` call to a kernel's first call keeps every behaviour (same compile, same
arguments, bitsandbytes' own fallback when it fails) and drops the import from the cost of
loading a model. `bench/overhead.py` shows it in "command -> first step";
`tests/test_import_hygiene.py` checks that Inductor stays unimported and that a deferred
compile runs once, at the first call.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

_IMPORTING = threading.Lock()  # `torch.compile` is swapped process-wide while bitsandbytes imports


def import_bitsandbytes() -> None:
    """Import bitsandbytes (once per process) with `torch.compile` deferred to first calls."""
    with _IMPORTING:
        if "bitsandbytes" in sys.modules:
            return
        import torch

        real = torch.compile
        torch.compile = deferred_compile(real)  # type: ignore[assignment]
        try:
            import bitsandbytes  # noqa: F401
        finally:
            torch.compile = real


def deferred_compile(compile_: Callable[..., Any]) -> Callable[..., Any]:
    """A `torch.compile` that calls `compile_` when the compiled function is first called.

    A `compile_` that raises leaves the plain function in its place, as bitsandbytes' own
    wrapper does when `torch.compile` refuses at import (not retried at every call)."""

    def deferred(model: Any = None, **options: Any) -> Any:
        if model is None:  # used as `@torch.compile(dynamic=False)`
            return lambda fn: deferred(fn, **options)
        compiled: Callable[..., Any] | None = None

        @functools.wraps(model)
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal compiled
            if compiled is None:
                try:
                    compiled = compile_(model, **options)
                except Exception:  # as bitsandbytes' fallback: the function uncompiled
                    compiled = model
            return compiled(*args, **kwargs)

        return call

    return deferred

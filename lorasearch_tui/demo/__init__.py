"""The embedded default: a tiny Gemma 3 VLM and a synthetic OCR set, built once into a cache.

Configs name them as `demo:model` and `demo:ocr` (the configs in `configs/` do), so the same
config works on every machine whatever the cache folder is. The cache folder is
`$LORASEARCH_CACHE_DIR`, else `~/.cache/lorasearch`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import UserError

DEMO_PREFIX = "demo:"
# Bump when the assets change, so old caches are rebuilt rather than reused.
ASSETS_VERSION = "2"
DEMO_INSTRUCTION = "請給我 OCR 結果"
_N_RECORDS = 300
# Steps of teaching the model to read at build time (`_pretrain.py`): it reads every val line
# of the demo from about step 1,100 on, at one thread or two (the step where reading sets in
# moves a little with the machine's arithmetic); the rate falls over the last fifth.
PRETRAIN_STEPS = 1500
_log = logging.getLogger("lorasearch.demo")


def cache_dir() -> Path:
    """Where built assets live; `LORASEARCH_CACHE_DIR` overrides the default."""
    env = os.environ.get("LORASEARCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lorasearch"


def demo_dir() -> Path:
    """The folder of this version of the demo assets. A build taught for another number of steps
    than the default (`LORASEARCH_DEMO_PRETRAIN_STEPS`, the tests' 0) has a folder of its own,
    so a taught and an untaught build never share one."""
    steps = pretrain_steps()
    suffix = "" if steps == PRETRAIN_STEPS else f"-pretrain{steps}"
    return cache_dir() / f"demo-v{ASSETS_VERSION}{suffix}"


def demo_paths() -> dict[str, Path]:
    """What each `demo:` name stands for."""
    root = demo_dir()
    return {"demo:model": root / "tiny-gemma3", "demo:ocr": root / "ocr" / "data.jsonl"}


def is_demo_name(value: str) -> bool:
    """True for `demo:...` names, which stand for the embedded assets."""
    return value.startswith(DEMO_PREFIX)


def assets_ready() -> bool:
    """True when a complete build is in the cache (a half-written one has no marker)."""
    return (demo_dir() / ".complete").exists()


def ensure_demo_assets(progress: Callable[[str], None] | None = None) -> Path:
    """Build the demo assets unless a complete build is cached; return their folder.

    The build goes to a temporary folder first and is renamed into place at the end, so an
    interrupted build never leaves a cache that looks complete. It takes minutes, so processes
    that start together (an array job's tasks sharing a home folder, two terminals) take turns
    on a lock beside the cache: the first builds, the others wait and use its build.

    Args:
        progress: called with a short message before each slow step (default: the log).

    Raises:
        UserError: `LORASEARCH_DEMO_PRETRAIN_STEPS` is not a whole number >= 0.
    """
    steps = pretrain_steps()
    target = demo_dir()
    complete = target / ".complete"  # what assets_ready() looks at, the variable read once here
    if complete.exists():
        return target
    say = progress or _log.info
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"Another process is building the demo assets in {target}; waiting for it...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():  # the build we waited for may have made it
            _build(target, steps, say)
    return target


def _build(target: Path, steps: int, say: Callable[[str], None]) -> None:
    """Write the assets into a temporary folder beside `target`, then rename it into place."""
    from ._model import build_tiny_gemma3
    from ._ocr_data import corpus_texts, write_ocr_dataset
    from ._pretrain import pretrain

    work = Path(tempfile.mkdtemp(prefix=".demo-build-", dir=target.parent))
    try:
        say(f"Building the demo data set ({_N_RECORDS} rendered text lines)...")
        write_ocr_dataset(work / "ocr", n_records=_N_RECORDS)
        say("Building the tiny Gemma 3 vision-language model and its tokenizer...")
        corpus = corpus_texts(_N_RECORDS) + [DEMO_INSTRUCTION, "user model"] * 20
        build_tiny_gemma3(work / "tiny-gemma3", corpus)
        if steps:
            say(f"Teaching it to read ({steps} steps; {PRETRAIN_STEPS} take ~2 minutes on two cores)...")
            pretrain(work / "tiny-gemma3", DEMO_INSTRUCTION, steps, say)
        (work / ".complete").write_text(ASSETS_VERSION + "\n")
        if target.exists():  # a build interrupted before its marker (we hold the lock)
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"Demo assets ready in {target}")


def resolve_demo_name(value: str) -> Path:
    """Turn `demo:model` / `demo:ocr` into a path, building the assets if needed.

    Raises:
        KeyError: for an unknown `demo:` name.
    """
    paths = demo_paths()
    if value not in paths:
        raise KeyError(value)
    ensure_demo_assets()
    return paths[value]


def pretrain_steps() -> int:
    """How long the build teaches the model to read: `LORASEARCH_DEMO_PRETRAIN_STEPS`, else the
    default. The test suite builds with 0 (a model that reads nothing, as in assets version 1)
    for every test that checks mechanics, not what the model writes.

    Raises:
        UserError: the variable is not a whole number >= 0.
    """
    raw = os.environ.get("LORASEARCH_DEMO_PRETRAIN_STEPS", "").strip()
    if not raw:
        return PRETRAIN_STEPS
    if not raw.isdigit():
        raise UserError(
            f"LORASEARCH_DEMO_PRETRAIN_STEPS={raw!r}: give a whole number of steps >= 0 "
            f"(0: untaught; unset: {PRETRAIN_STEPS})"
        )
    return int(raw)

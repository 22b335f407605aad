"""Shared fixtures: the demo assets built once per session, a tiny text LM, config writers."""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

# Before any test module imports huggingface_hub, which reads these once, at its import: an
# empty Hugging Face cache, offline, and an endpoint nothing answers (the discard port), so that
# no test, in this process or a child, can reach the network. The Hub tests remove
# HF_HUB_OFFLINE for their own processes and point them at a stand-in on 127.0.0.1.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="lorasearch-test-hf-home-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], True)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ.pop("HF_DATASETS_CACHE", None)
os.environ.pop("HF_HUB_CACHE", None)


def _a_core_per_test_process() -> None:
    """Under pytest-xdist, torch takes one thread in each test process and every process it
    starts (searches, their workers): trainings at once never fight over the cores (torch's
    threads spin while they wait, so two processes of two threads each on two cores run slower
    than one after the other). With no more test processes than cores, each is pinned to a
    core of its own (the search's placement reads this affinity, as it would a container's CPU
    limit). The README's `-n 3` on two cores runs them unpinned: a test waiting on a lease, a
    timeout or a subprocess leaves its core to the others (the suite ran ~70 s faster than at
    `-n 2`, both cores busier)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if not worker.startswith("gw") or not cores:
        return  # no xdist: torch's threads as a user gets them
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    if count <= len(cores):
        os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})


_a_core_per_test_process()


def _the_package_compiled_once() -> None:
    """Where Python writes no bytecode (PYTHONDONTWRITEBYTECODE=1, as on this project's
    machines and CI's), every process the tests start (~350 searches, workers and commands)
    compiled lorasearch_tui from source again (~0.1 s of a core each); the install compiled
    only the installed libraries, not the editable package. The first test process compiles
    it once into its usual `__pycache__` folders (git ignores them), which the others read;
    an edited file is compiled again, by its time stamp, as always."""
    if not sys.dont_write_bytecode or os.environ.get("PYTEST_XDIST_WORKER"):
        return  # bytecode is written as usual; or the first process did it
    import compileall

    for folder in ("lorasearch_tui", "tests/helpers"):
        compileall.compile_dir(REPO / folder, quiet=2)


_the_package_compiled_once()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help="write each test file's seconds to tests/durations.json at the end of a passing run "
        "(the order -n 3 --dist loadfile hands the files out in: tests/helpers/scheduling.py); "
        "run the whole suite: a file's tests left out would lower its time",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("record_durations") and not os.environ.get("PYTEST_XDIST_WORKER"):
        from helpers.scheduling import DurationRecorder

        config.pluginmanager.register(DurationRecorder(), "lorasearch-durations")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, a test dependency
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The longest test files first (tests/helpers/scheduling.py)."""
    from helpers.scheduling import make_scheduler

    return make_scheduler(config, log)


@pytest.fixture(scope="session", autouse=True)
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test sees a private demo cache, built once for the session (~10 s), and the empty,
    offline Hugging Face cache set above. `LORASEARCH_TEST_CACHE` names a folder to keep it in
    across sessions instead (bench/mutants.py runs pytest dozens of times). The model is built
    untaught (`LORASEARCH_DEMO_PRETRAIN_STEPS=0`): the same architecture, tokenizer and data as
    the demo's, without the two minutes of teaching it to read, which only the tests of what
    the model writes need (test_demo_reads.py builds it taught)."""
    kept = os.environ.get("LORASEARCH_TEST_CACHE")
    cache = Path(kept) if kept else tmp_path_factory.mktemp("lorasearch-cache")
    with pytest.MonkeyPatch.context() as patch:  # for this session only, undone at its end
        patch.setenv("LORASEARCH_DEMO_PRETRAIN_STEPS", "0")
        from lorasearch_tui.demo import ensure_demo_assets

        if not kept and os.environ.get("PYTEST_XDIST_WORKER"):
            # one build for all the test processes (the build's lock makes the others wait
            # for the first), copied into each one's own cache: ~10 s of a core each saved
            patch.setenv("LORASEARCH_CACHE_DIR", str(tmp_path_factory.getbasetemp().parent / "demo-build"))
            built = ensure_demo_assets()
            shutil.copytree(built, cache / built.name)
        patch.setenv("LORASEARCH_CACHE_DIR", str(cache))
        yield ensure_demo_assets()


@pytest.fixture(scope="session")
def demo_model(demo_cache: Path) -> Path:
    return demo_cache / "tiny-gemma3"


@pytest.fixture(scope="session")
def demo_data(demo_cache: Path) -> Path:
    return demo_cache / "ocr" / "data.jsonl"


def _sum_records(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        a, b = rng.randrange(10), rng.randrange(10)
        pairs.append((f"add {a} and {b}", str(a + b)))
    return pairs


@pytest.fixture(scope="session")
def text_records() -> list[tuple[str, str]]:
    """Question/answer pairs a tiny LM can learn a little of in a few steps."""
    return _sum_records(60)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory, text_records: list[tuple[str, str]]) -> Path:
    from helpers.tiny_llama import build_tiny_llama

    corpus = [f"{q} {a}" for q, a in text_records] * 5 + ["user model system"] * 10
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), corpus)


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# Small, fast training settings for tests: a few steps of batch 4.
FAST = {
    "max_seq_length": 256,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "learning_rate": 0.02,
    "eval_steps": 5,
}


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real PostgreSQL server for the session: `pgserver` (from the registry) brings the
    server's binaries and starts one on a Unix socket in about a second, with no network and
    without root (run as root, it runs the server as a user of its own)."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def postgres_url(postgres: Any) -> str:
    """A fresh, empty database on the session's server, as a storage URL."""
    import uuid

    name = f"t{uuid.uuid4().hex[:12]}"
    postgres.psql(f"CREATE DATABASE {name};")
    return postgres.get_uri(name)

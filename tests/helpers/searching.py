"""Running `lorasearch search` as a user does (a real process in a folder), and reading what it left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
from conftest import REPO, write_json

from lorasearch_tui.events import StepLogged, decode_lines

# Tiny trials: 6 optimizer steps of 4 sequences, an eval every 2 steps on 15 records (~1 s each
# on a CPU). The evals were the larger part of a trial's compute at 30 records (4 evals of 8
# batches against 6 steps); every rule the tests check acts at an eval whatever its size.
FAST = {
    "max_seq_length": 256,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "max_steps": 6,
    "eval_steps": 2,
    "learning_rate": 0.05,
    "val_split": "train[95%:]",
}
LR_SPACE = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}


def config_file(folder: Path, space: dict, **fixed) -> Path:
    values = {k: v for k, v in {**FAST, **fixed}.items() if k not in space}
    return write_json(folder / "search.json", {**values, "search_space": space})


def lorasearch(
    cwd: Path, *args: str, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`lorasearch ARGS` in `cwd` as a user runs it: this environment with `env` on top (a value
    of None unsets that variable), output captured."""
    merged = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=merged,
    )


def search(
    cwd: Path, *args: str, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return lorasearch(cwd, "search", "--no-tui", *args, env=env, timeout=timeout)


def start_search(cwd: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen[str], Path]:
    log = cwd / "search.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", "search", "--no-tui", *args],
        cwd=cwd,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    return proc, log


def study_of(cwd: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{cwd}/optuna_studies/{name}.db")


def trial_results(cwd: Path, name: str, number: int, base: Path | None = None) -> dict:
    """A trial's `trial_results.json`, read as strict JSON (a NaN in it fails the test)."""
    folder = (base or cwd / "models/hyperparam_search") / name / f"trial_{number}"
    return json.loads((folder / "trial_results.json").read_text(), parse_constant=_no_constant)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} in trial_results.json")


def steps_logged(cwd: Path, name: str, number: int) -> int:
    live = cwd / "models/hyperparam_search" / name / f"trial_{number}" / "metrics.jsonl"
    events = decode_lines(live.read_bytes()) if live.exists() else []
    return sum(isinstance(event, StepLogged) for event in events)


def wait_for(predicate, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class ListSink:
    """A sink that keeps every event the engine emits, for tests to read."""

    def __init__(self) -> None:
        self.events: list = []

    def emit(self, event) -> None:
        self.events.append(event)


STANDIN = str(REPO / "tests" / "helpers" / "standin_worker.py")


def run_standin(
    folder: Path,
    behaviour: str = "good",
    name: str = "s",
    space: dict | None = None,
    sink=None,
    fixed: dict | None = None,
    controls=None,
    **options,
):
    """A real search in `folder` (the current directory) whose worker is the stand-in:
    returns what `run()` returned, the study and the sink (a ListSink unless one is given)."""
    from lorasearch_tui.config import parse_config
    from lorasearch_tui.search import SearchOptions, SearchRunner

    values = {"max_steps": 4, "eval_steps": 2, "base_output_dir": str(folder / "out"), **(fixed or {})}
    config = parse_config({**values, "search_space": space or LR_SPACE}, "test")
    sink = sink if sink is not None else ListSink()
    settings = {"mode": "random", "pruner": "none", "hardware_interval": None, **options}
    if "n_trials" in options:  # as `--n-trials` given on the command line (it wins on a resume)
        settings["given"] = frozenset({"n_trials", *settings.get("given", ())})
    runner = SearchRunner(
        config,
        SearchOptions(name, worker_command=(sys.executable, STANDIN, behaviour), **settings),
        sink,
        controls,
    )
    finished = runner.run()
    return finished, study_of(folder, name), sink


def why_alive(pid: int) -> str:
    """What a process that should have ended is doing: its signal masks (a SIGINT blocked or
    ignored since its start never arrives) and its Python stacks (py-spy), for a failure's
    message."""
    import subprocess

    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        return f"pid {pid}: {exc}"
    masks = [line for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]
    spy = Path(sys.executable).with_name("py-spy")
    try:
        stacks = subprocess.run(
            [str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        stacks = f"py-spy: {exc}"
    return f"pid {pid} still alive: {'; '.join(masks)}\n{stacks}"

"""What `--checkpoint-every` costs and what it saves, on the demo's trial (68 steps, an eval
every 10), measured in one run.

Three searches of the same single trial (learning rate 0.01, rank 8), each a real process:
1. alone: no checkpoints, trained straight through (the reference);
2. checkpointed: `--checkpoint-every 10`, trained straight through (the cost of saving);
3. killed: `--checkpoint-every 10`, held at step `--kill-at` (an injected hang) and killed
   with SIGKILL, then `--resume`: the rerun goes on from the last checkpoint.

Prints each trial's wall time (start to record, the worker's start and model load included),
the rerun's against the whole trial, the size of one checkpoint against the adapter's, and
the final eval losses (the resumed one must match the reference to 1e-6: the bench fails if
not; 8e-4 off before the adapter resumed in its training dtype).

Use: python bench/resume_saving.py [--kill-at 55]   (about 2 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT_EVERY = 10


def _config(folder: Path) -> Path:
    config = json.loads((REPO / "configs" / "demo.json").read_text())
    config["search_space"] = {
        "learning_rate": {"type": "categorical", "choices": [0.01]},
        "lora_r": {"type": "categorical", "choices": [8]},
    }
    path = folder / "search.json"
    path.write_text(json.dumps(config))
    return path


def _search(folder: Path, *args: str, env: dict | None = None, wait: bool = True) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", "search", "--no-tui", "-c", str(_config(folder))]
        + ["--study-name", "r", "--n-trials", "1", *args],
        cwd=folder,
        stdout=(folder / "search.log").open("a"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    if wait and proc.wait() != 0:
        raise SystemExit(f"search failed in {folder}: see {folder / 'search.log'}")
    return proc


def _trials(folder: Path) -> list:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{folder}/optuna_studies/r.db")
    return study.trials


def _seconds(trial) -> float:
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kill-at", type=int, default=55, help="the step the killed trial is held at")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lorasearch-resume-"))
    folders = {name: root / name for name in ("alone", "checkpointed", "killed")}
    for folder in folders.values():
        folder.mkdir()

    _search(folders["alone"])
    _search(folders["checkpointed"], "--checkpoint-every", str(CHECKPOINT_EVERY))

    # the size of one checkpoint, read while the killed trial is held at its hang
    killed = folders["killed"]
    every = ("--checkpoint-every", str(CHECKPOINT_EVERY))
    proc = _search(killed, *every, env={"LORASEARCH_INJECT_FAULT": f"hang@0:{args.kill_at}"}, wait=False)
    trainer = killed / "models/hyperparam_search/r/trial_0/trainer"
    deadline = time.monotonic() + 600
    expected = f"checkpoint-{(args.kill_at - 1) // CHECKPOINT_EVERY * CHECKPOINT_EVERY}"
    while not (trainer / expected / "trainer_state.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the held trial never wrote {expected}: see {killed / 'search.log'}")
        time.sleep(0.2)
    time.sleep(2.0)  # it is held at its hang, a few steps on
    checkpoint_bytes = _size(trainer / expected)
    proc.kill()
    proc.wait()
    lost_s = time.time() - _trials(killed)[0].datetime_start.timestamp()
    _search(killed, *every, "--resume")

    (alone,) = _trials(folders["alone"])
    (saved,) = _trials(folders["checkpointed"])
    lost, rerun = _trials(killed)
    adapter_bytes = _size(folders["alone"] / "models/hyperparam_search/r/trial_0/adapter")
    point = rerun.user_attrs.get("resumed_from")
    print(f"demo trial, 68 steps, checkpoint every {CHECKPOINT_EVERY}; killed at step {args.kill_at}")
    print(f"{'run':<34}{'wall s':>8}{'eval loss':>12}")
    print(f"{'alone (no checkpoints)':<34}{_seconds(alone):>8.1f}{alone.value:>12.6f}")
    print(f"{'checkpointed, straight through':<34}{_seconds(saved):>8.1f}{saved.value:>12.6f}")
    print(f"{'killed trial until the kill':<34}{lost_s:>8.1f}{'-':>12}")
    rerun_name = f"its rerun from step {point and point['step']}"
    print(f"{rerun_name:<34}{_seconds(rerun):>8.1f}{rerun.value:>12.6f}")
    print(f"checkpointing costs {_seconds(saved) / _seconds(alone):.2f}x the trial's time")
    print(f"the rerun takes {_seconds(rerun) / _seconds(alone):.2f}x a trial from step 0")
    ratio = checkpoint_bytes / adapter_bytes
    print(f"one checkpoint: {checkpoint_bytes / 1e6:.1f} MB, {ratio:.1f}x the adapter")
    same = abs(rerun.value - alone.value) <= 1e-6 * abs(alone.value)
    print(f"resumed result within 1e-6 of the reference: {'yes' if same else 'NO'}")
    return 0 if same and point is not None else 1


if __name__ == "__main__":
    sys.exit(main())

"""What a search costs beyond training, on the CPU demo. One run, side by side, ratios printed.

    .venv/bin/python bench/overhead.py [--trials 4] [--steps 30] [--text-records 2000]

1. K trials through `lorasearch search --no-tui` (random, no pruning, seeded), its output to a
   file: the wall time, each trial's training time (`runtime_s`), the time around it
   (`duration_s` - `runtime_s`, plus the gap before the next trial starts), and the search
   parent's own CPU time (getrusage of that process, its workers apart).
2. The same search with its output on a pseudo-terminal (the live progress bar drawn), and
   once more in the terminal UI (`q` pressed when it is done): the parent's CPU again.
3. The same K parameter sets as K fresh `lorasearch train` processes, one after the other (the
   reference project's way: a process and a model load per trial): wall minus training time.
4. Setup per trial before and after preprocessing once (`LoadedData.prepared`): building the
   trainer on a text data set of N prompt/completion records, in one process, with the prepared
   splits dropped before each trial (before) or kept (after).

Prints the table and the ratios. The machine is shared and noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import random
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

RUSAGE = """
import atexit, json, os, resource, sys
def _write():
    r = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["BENCH_RUSAGE"], "w") as out:
        json.dump({"cpu_s": r.ru_utime + r.ru_stime}, out)
atexit.register(_write)
from lorasearch_tui.cli import main
sys.argv = ["lorasearch", *sys.argv[1:]]
main()
"""

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[a-zA-Z]")
FIXED = {
    "max_seq_length": 256,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "eval_steps": 10,
}


def run_search(
    folder: Path, name: str, args: argparse.Namespace, terminal: bool, tui: bool = False, trials: int = 0
) -> dict:
    config = folder / "search.json"
    space = {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 5e-2}}
    config.write_text(json.dumps({**FIXED, "max_steps": args.steps, "search_space": space}))
    rusage = folder / f"{name}.rusage.json"
    command = [sys.executable, "-c", RUSAGE, "search", *([] if tui else ["--no-tui"])]
    command += ["-c", str(config), "--study-name", name]
    command += ["--n-trials", str(trials or args.trials), "--search-mode", "random", "--pruner", "none"]
    env = {**os.environ, "BENCH_RUSAGE": str(rusage), "COLUMNS": "120"}
    began = time.monotonic()
    if terminal:
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        env["TERM"] = "xterm-256color"
        proc = subprocess.Popen(
            command, cwd=folder, stdin=follower, stdout=follower, stderr=follower, env=env
        )
        os.close(follower)

        shown = bytearray()

        def drain() -> None:  # as a person's terminal would
            while True:
                try:
                    data = os.read(leader, 65536)
                except OSError:
                    return
                if not data:
                    return
                shown.extend(data)
                del shown[:-65536]

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        while proc.poll() is None:
            time.sleep(1.0)
            # the search is over when the header says so; the UI then waits for its q
            plain = ANSI.sub("", shown.decode("utf-8", "replace"))
            if tui and "q quits" in plain:
                os.write(leader, b"q")
        reader.join(timeout=5)
        os.close(leader)
    else:
        with (folder / f"{name}.log").open("w") as log:
            proc = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env)
            proc.wait()
    wall = time.monotonic() - began
    if proc.returncode != 0:
        sys.exit(f"search {name} failed (exit {proc.returncode}); see {folder}")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{folder}/optuna_studies/{name}.db")
    trials = sorted(study.trials, key=lambda t: t.number)
    records = [
        json.loads(
            (
                folder / "models/hyperparam_search" / name / f"trial_{t.number}" / "trial_results.json"
            ).read_text()
        )
        for t in trials
    ]
    gaps = [
        (b.datetime_start - a.datetime_complete).total_seconds()
        for a, b in zip(trials, trials[1:], strict=False)
    ]
    return {
        "wall": wall,
        "cpu": json.loads(rusage.read_text())["cpu_s"],
        "runtime": [r["runtime_s"] for r in records],
        "duration": [r["duration_s"] for r in records],
        "tokens_per_s": [r["tokens_per_s"] for r in records],
        "gaps": gaps,
        "params": [dict(t.params) for t in trials],
    }


def run_fresh(folder: Path, params: list[dict], steps: int) -> dict:
    walls, runtimes, speeds = [], [], []
    for i, values in enumerate(params):
        config = folder / f"train-{i}.json"
        config.write_text(json.dumps({**FIXED, "max_steps": steps, **values}))
        began = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "lorasearch_tui",
                "train",
                "-c",
                str(config),
                "--output-dir",
                f"fresh-{i}",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        walls.append(time.monotonic() - began)
        if done.returncode != 0:
            sys.exit(f"train {i} failed:\n{done.stderr[-2000:]}")
        metrics = json.loads((folder / f"fresh-{i}" / "metrics.json").read_text())
        runtimes.append(metrics["runtime_s"])
        speeds.append(metrics["tokens_per_s"])
    return {"wall": walls, "runtime": runtimes, "tokens_per_s": speeds}


def setup_before_after(folder: Path, records: int, repeats: int = 3) -> tuple[list[float], list[float]]:
    """Seconds to build a trial's trainer on a text data set, splits dropped vs kept."""
    from lorasearch_tui.config import parse_config
    from lorasearch_tui.data import load_data
    from lorasearch_tui.training import load_base, lora_adapter
    from lorasearch_tui.training._run import _trainer

    rng = random.Random(0)
    words = "the quick brown fox jumps over lazy dog receipt total amount date invoice number".split()
    path = folder / "text.jsonl"
    with path.open("w") as out:
        for _ in range(records):
            row = {
                "prompt": " ".join(rng.choices(words, k=30)),
                "completion": " ".join(rng.choices(words, k=20)),
            }
            out.write(json.dumps(row) + "\n")
    params = parse_config({**FIXED, "input_data": str(path), "max_steps": 4}, "bench").params
    data, base = load_data(params, decode_images=False), load_base(params)
    timings: dict[str, list[float]] = {"before": [], "after": []}
    for label in ("before", "after"):
        data.prepared.clear()
        for i in range(repeats + 1):
            if label == "before":
                data.prepared.clear()
            with lora_adapter(base, params) as model:
                began = time.perf_counter()
                trainer = _trainer(base, model, params, data, folder / "trainer", [], False, False)
                if i:  # the first build of "after" prepares, as the first trial of a worker does
                    timings[label].append(time.perf_counter() - began)
                del trainer
    return timings["before"], timings["after"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--text-records", type=int, default=2000)
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        logged = run_search(folder, "logged", args, terminal=False)
        drawn = run_search(folder, "drawn", args, terminal=True)
        shown = run_search(folder, "shown", args, terminal=True, tui=True)
        # the same with one trial: what the parent spends starting and ending, apart
        alone = {
            "logged": run_search(folder, "logged1", args, terminal=False, trials=1),
            "drawn": run_search(folder, "drawn1", args, terminal=True, trials=1),
            "shown": run_search(folder, "shown1", args, terminal=True, tui=True, trials=1),
        }
        fresh = run_fresh(folder, logged["params"], args.steps)
        before, after = setup_before_after(folder, args.text_records)
    k = args.trials
    # a search's cost around each training run after the first (the first loads the model)
    around = [d - r for d, r in zip(logged["duration"][1:], logged["runtime"][1:], strict=True)]
    per_trial = statistics.mean(a + g for a, g in zip(around, logged["gaps"], strict=True))
    fresh_over = [w - r for w, r in zip(fresh["wall"], fresh["runtime"], strict=True)]
    print(f"demo, {k} trials of {args.steps} steps, one run")
    later, first = statistics.mean(fresh_over[1:]), logged["duration"][0] - logged["runtime"][0]
    speed_s, speed_f = statistics.median(logged["tokens_per_s"]), statistics.median(fresh["tokens_per_s"])
    rows = [
        ("", "search", "fresh train"),
        ("wall, all trials (s)", f"{logged['wall']:.1f}", f"{sum(fresh['wall']):.1f}"),
        ("training, all trials (s)", f"{sum(logged['runtime']):.1f}", f"{sum(fresh['runtime']):.1f}"),
        ("overhead per trial after the first (s)", f"{per_trial:.2f}", f"{later:.2f}"),
        ("overhead of the first trial (s)", f"{first:.2f}", f"{fresh_over[0]:.2f}"),
        ("training tokens/s (median)", f"{speed_s:.0f}", f"{speed_f:.0f}"),
    ]
    for label, a, b in rows:
        print(f"{label:44}{a:>12}{b:>14}")
    print(f"fresh-process overhead / search overhead per trial: {later / per_trial:.1f}x")
    print(f"training speed in a search / alone: {speed_s / speed_f:.3f}")
    for label, key, run in (
        ("output to a file", "logged", logged),
        ("progress bar on a terminal", "drawn", drawn),
        ("terminal UI", "shown", shown),
    ):
        # the trials after the first: CPU and trial time beyond the one-trial search's
        extra_cpu = run["cpu"] - alone[key]["cpu"]
        extra_minutes = (sum(run["duration"]) - sum(alone[key]["duration"])) / 60
        print(
            f"search parent CPU, {label}: {run['cpu']:.2f} s in all "
            f"({alone[key]['cpu']:.2f} s for one trial); "
            f"per further trial {extra_cpu / (k - 1):.2f} s, {extra_cpu / extra_minutes:.2f} s per "
            f"trial-minute ({100 * extra_cpu / (extra_minutes * 60):.1f}% of a core)"
        )
    print(
        f"trainer setup per trial, {args.text_records} text records: {statistics.median(before):.3f} s when "
        f"every trial tokenizes, {statistics.median(after):.3f} s with the splits prepared once "
        f"({statistics.median(before) / max(statistics.median(after), 1e-9):.0f}x)"
    )
    print(f"took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()

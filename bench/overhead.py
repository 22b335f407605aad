"""What a search costs beyond training, as a user waits for it, on the CPU demo.

    .venv/bin/python bench/overhead.py [--trials 4] [--steps 30] [--repeats 3] [--text-records 0]

Four variants, each run --repeats times in turn (A B C D A B C D ...: a slow minute of this
shared machine falls on all of them alike); every figure is given as its median and range:

- `train`: `lorasearch train` of the search's first parameter set, alone in a fresh process
  (the reference: what a user waits for without a search);
- `search`: K trials (random, seeded, no pruning) through `lorasearch search --no-tui`, its
  output to a file;
- `search, bar`: the same on a pseudo-terminal (the live progress bar drawn);
- `search, TUI`: the same in the terminal UI on a pseudo-terminal (`q` once it says done).

The times are stamped inside the measured process by a wrapper (`STAMPS`) when the front end
learns of a step or an eval (`LiveTrial.log` in a search's parent, the progress view's
`on_step` in `train`), against the bench's clock read just before the process starts:
- command -> the first training step;
- one trial's last step or eval -> the next trial's first step, less that step's own training
  (the trial's median step time);
- the last step or eval -> the process has exited;
- the parent's CPU between its first step and its last (getrusage in the parent, its workers
  apart), as a share of one core;
- training tokens/s (each run's own `runtime_s`);
- in the TUI, process start -> the first full frame (the study's name in the header and the
  footer's keys, on the pseudo-terminal).
The bench also checks that the losses do not move: every search gives the same values, and its
first trial the same eval loss as the lone `train`.

With `--text-records N`, also the trainer's setup per trial before and after preprocessing
once (`LoadedData.prepared`), on a text data set of N records.
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

# Runs in the measured process: stamps what a user sees happen, then the real CLI.
STAMPS = """
import json, os, resource, sys, time
_out = open(os.environ["BENCH_STAMPS"], "a", buffering=1)
def _stamp(kind, number, step):
    r = resource.getrusage(resource.RUSAGE_SELF)
    _out.write(json.dumps([kind, time.time(), r.ru_utime + r.ru_stime, number, step]) + "\\n")
if sys.argv[1] == "train":
    from lorasearch_tui.console import TrainProgress as _View
    _on_step, _on_eval = _View.on_step, _View.on_eval
    def on_step(self, step, loss, learning_rate):
        _stamp("step", 0, step)
        return _on_step(self, step, loss, learning_rate)
    def on_eval(self, step, *args, **kwargs):
        _stamp("eval", 0, step)
        return _on_eval(self, step, *args, **kwargs)
    _View.on_step, _View.on_eval = on_step, on_eval
else:
    from lorasearch_tui.search._live_trial import LiveTrial
    _log = LiveTrial.log
    def log(self, event):
        _stamp(event.event, event.number, event.step)
        return _log(self, event)
    LiveTrial.log = log
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
SPACE = {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 5e-2}}
FOOTER = "Help"  # a key the search screen's footer always shows: drawn with its first full frame
VARIANTS = ("train", "search", "search, bar", "search, TUI")


def _launch(command: list[str], folder: Path, name: str, terminal: bool, tui: bool) -> dict:
    """Run one measured process; when it began and ended, its first frame, its output."""
    env = {**os.environ, "BENCH_STAMPS": str(folder / f"{name}.stamps"), "COLUMNS": "140"}
    began = time.time()
    if not terminal:
        with (folder / f"{name}.log").open("w") as log:
            proc = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env)
            proc.wait()
        return {"began": began, "ended": time.time(), "frame": None, "code": proc.returncode}
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(command, cwd=folder, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    seen: list[float] = []  # when the first full frame came
    shown: set[str] = set()  # of the study's name and the footer's key, those drawn so far
    over = threading.Event()  # the TUI says the search is done: it waits for its q

    def drain() -> None:  # as a person's terminal would; looks only at what is new (and a tail)
        tail = ""
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                return
            if not data:
                return
            if not tui:
                continue
            tail = (tail + ANSI.sub("", data.decode("utf-8", "replace")))[-4096:]
            # a frame is more than 4 KiB of text: the header's name and the footer are looked
            # for apart, and the frame counted when both have come
            shown.update(mark for mark in (name, FOOTER) if mark in tail)
            if not seen and len(shown) == 2:
                seen.append(time.time())
            if "q quits" in tail:
                over.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    asked = False
    while proc.poll() is None:
        time.sleep(0.02)
        if over.is_set() and not asked:
            os.write(leader, b"q")
            asked = True
    ended = time.time()
    reader.join(timeout=5)
    os.close(leader)
    return {
        "began": began,
        "ended": ended,
        "frame": seen[0] if seen else None,
        "code": proc.returncode,
    }


def _stamps(path: Path) -> list[tuple[str, float, float, int, int]]:
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]  # type: ignore[misc]


def _figures(run: dict, stamps: list, tui: bool) -> dict:
    """What a user waits for, from one run's stamps."""
    steps = [s for s in stamps if s[0] == "step"]
    first, last = steps[0], stamps[-1]
    gaps, around = [], []
    for number in sorted({s[3] for s in stamps})[1:]:
        before = [s for s in stamps if s[3] < number]
        mine = [s for s in stamps if s[3] == number]
        mine_steps = [s for s in mine if s[0] == "step"]
        if not before or len(mine_steps) < 3:
            continue
        # a step's and an eval's own time, from this trial's stamps: the median step, and the
        # median eval (an eval's stamp less the step's just before it)
        step_s = statistics.median(b[1] - a[1] for a, b in zip(mine_steps, mine_steps[1:], strict=False))
        evals = [
            b[1] - a[1] for a, b in zip(mine, mine[1:], strict=False) if b[0] == "eval" and a[0] == "step"
        ]
        eval_s = statistics.median(evals) if evals else 0.0
        # the raw gap: to the first step, less that step's training
        gaps.append(mine_steps[0][1] - before[-1][1] - step_s)
        # around training: to the trial's first stamp (its step-0 eval, when it has one: the
        # untrained adapter's loss, a measurement like the others), less that eval or step
        first_own = mine[0]
        around.append(first_own[1] - before[-1][1] - (eval_s if first_own[0] == "eval" else step_s))
    span = last[1] - first[1]
    return {
        "to_first_step": first[1] - run["began"],
        "gaps": gaps,
        "around": around,
        "to_exit": None if tui else run["ended"] - last[1],
        "cpu_share": (last[2] - first[2]) / span if span > 0 else None,
        "first_frame": run["frame"] - run["began"] if run["frame"] else None,
    }


def run_search(folder: Path, name: str, args: argparse.Namespace, terminal: bool, tui: bool) -> dict:
    config = folder / "search.json"
    config.write_text(json.dumps({**FIXED, "max_steps": args.steps, "search_space": SPACE}))
    command = [sys.executable, "-c", STAMPS, "search", *([] if tui else ["--no-tui"])]
    command += ["-c", str(config), "--study-name", name]
    command += ["--n-trials", str(args.trials), "--search-mode", "random", "--pruner", "none"]
    run = _launch(command, folder, name, terminal, tui)
    if run["code"] != 0:
        sys.exit(f"search {name} failed (exit {run['code']}); see {folder}")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{folder}/optuna_studies/{name}.db")
    trials = sorted(study.trials, key=lambda t: t.number)
    results = folder / "models/hyperparam_search" / name
    records = [json.loads((results / f"trial_{t.number}/trial_results.json").read_text()) for t in trials]
    return {
        **_figures(run, _stamps(folder / f"{name}.stamps"), tui),
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in records),
        "values": [t.value for t in trials],
        "params": [dict(t.params) for t in trials],
        "overhead": [r["duration_s"] - r["runtime_s"] for r in records],
    }


def run_train(folder: Path, name: str, params: dict, steps: int) -> dict:
    config = folder / f"{name}.json"
    config.write_text(json.dumps({**FIXED, "max_steps": steps, **params}))
    command = [sys.executable, "-c", STAMPS, "train", "-c", str(config), "--output-dir", name]
    run = _launch(command, folder, name, terminal=False, tui=False)
    if run["code"] != 0:
        sys.exit(f"train {name} failed (exit {run['code']}); see {folder}/{name}.log")
    metrics = json.loads((folder / name / "metrics.json").read_text())
    stamps = _stamps(folder / f"{name}.stamps")
    return {
        **_figures(run, stamps, False),
        "tokens_per_s": metrics["tokens_per_s"],
        "eval_loss": metrics.get("eval_loss"),
        "outside_training": run["ended"] - run["began"] - metrics["runtime_s"],
    }


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


def _spread(values: list[float], unit: str = "s", digits: int = 2) -> str:
    """median [low-high] of the repeats"""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    scale = 100 if unit == "%" else 1
    low, mid, high = (scale * min(values), scale * statistics.median(values), scale * max(values))
    return f"{mid:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--text-records", type=int, default=0)
    parser.add_argument(
        "--only", choices=VARIANTS, action="append", help="run these variants alone (`train` always runs)"
    )
    args = parser.parse_args()
    began = time.monotonic()
    variants = tuple(v for v in VARIANTS if not args.only or v in args.only or v == "train")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        params: dict | None = None
        for r in range(args.repeats):
            for variant in variants:
                name = f"{variant.replace(', ', '-')}-{r}"
                if variant == "train":
                    if params is None:  # the search's first set: seeded, the same every run
                        first = run_search(
                            folder, "params", argparse.Namespace(**{**vars(args), "trials": 1}), False, False
                        )
                        params = first["params"][0]
                    runs[variant].append(run_train(folder, name, params, args.steps))
                else:
                    terminal, tui = variant != "search", variant == "search, TUI"
                    runs[variant].append(run_search(folder, name, args, terminal, tui))
                print(f"  {name}: done", file=sys.stderr, flush=True)
        setup = setup_before_after(folder, args.text_records) if args.text_records else None
    lone = runs["train"]
    print(
        f"demo, {args.trials} trials of {args.steps} steps; {args.repeats} runs of each variant, "
        "median [range]"
    )
    header = ("", *variants)
    rows = [
        ("command -> first step (s)", "to_first_step", "s"),
        ("trial's last step -> next one's first (s)", "gaps", "s"),
        ("  the same, its step-0 eval taken out (s)", "around", "s"),
        ("last step -> exit (s)", "to_exit", "s"),
        ("parent CPU while training (% of a core)", "cpu_share", "%"),
        ("TUI first frame (s)", "first_frame", "s"),
        ("training tokens/s", "tokens_per_s", "n"),
    ]
    print(f"{header[0]:44}" + "".join(f"{h:>24}" for h in header[1:]))
    for label, key, unit in rows:
        cells = []
        for variant in variants:
            values = [
                v for run in runs[variant] for v in (run[key] if key in ("gaps", "around") else [run[key]])
            ]
            if variant == "train" and key == "cpu_share":
                values = []  # the lone train trains in its own process: not a parent's share
            cells.append(_spread(values, unit, 0 if unit == "n" else (1 if unit == "%" else 2)))
        print(f"{label:44}" + "".join(f"{c:>24}" for c in cells))
    searches = [v for v in variants if v != "train"]
    if searches:  # the targets, read on the headless search (or the variant that ran)
        shown = "search" if "search" in searches else searches[0]
        runs_of = runs[shown]
        lone_first = statistics.median(r["to_first_step"] for r in lone)
        searched = statistics.median(r["to_first_step"] for r in runs_of)
        gaps = [g for r in runs_of for g in r["gaps"]]
        around = [g for r in runs_of for g in r["around"]]
        print(f"read on '{shown}':")
        print(f"  the first step after a lone train's: +{searched - lone_first:.2f} s (target <= 4)")
        print(
            f"  between trials: {_spread(gaps)} s; without the next trial's step-0 eval "
            f"{_spread(around)} s (target <= 0.2)"
        )
        print(f"  last step -> exit: {_spread([r['to_exit'] for r in runs_of])} s (target <= 2)")
        speed = [s["tokens_per_s"] / statistics.median(t["tokens_per_s"] for t in lone) for s in runs_of]
        print(f"  training speed in a search / alone: {_spread(speed, 'x', 3)} (target >= 0.98)")
        if gaps:
            outside, between = statistics.median(r["outside_training"] for r in lone), statistics.median(gaps)
            print(
                f"  a fresh process per trial costs {outside:.2f} s outside training, a search "
                f"{between:.2f} s between trials ({outside / max(between, 1e-9):.0f}x)"
            )
    values = {tuple(round(v, 9) for v in r["values"]) for v in variants[1:] for r in runs[v]}
    lone_loss = {round(r["eval_loss"], 9) for r in lone}
    same = len(lone_loss) == 1 and (
        not values or (len(values) == 1 and next(iter(values))[0] == next(iter(lone_loss)))
    )
    said = "unchanged" if same else "DIFFER"
    print(f"losses: {said} (searches {sorted(values)}; the lone train {sorted(lone_loss)})")
    if setup:
        before, after = (statistics.median(times) for times in setup)
        print(
            f"trainer setup per trial, {args.text_records} text records: {before:.3f} s when every "
            f"trial tokenizes, {after:.3f} s with the splits prepared once"
        )
    print(f"took {time.monotonic() - began:.0f} s")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()

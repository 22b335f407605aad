"""Trials at once: the demo search with `--workers 1` and with `--workers 2`, in one run.

    .venv/bin/python bench/parallel.py [--n-trials 8]

Both searches run the same grid of the demo (the same trials, in the same order, no pruning),
one after the other on this machine, and the script prints each wall time and their ratio.
The machines here are shared and noisy: only the ratio measured in one run means something.
On a 2-core CPU the two workers split the cores (torch threads = cores / workers), so the
gain is what the time outside the matrix products (model load, data, evals, the engine) gives.
On a GPU host, run it with `--gpus 0 --trials-per-gpu 2` against `--gpus 0` instead.
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

SEARCH = {
    "max_seq_length": 256,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "max_steps": 20,
    "eval_steps": 10,
    "search_space": {
        "learning_rate": {"type": "categorical", "choices": [0.005, 0.01, 0.02, 0.04]},
        "lora_r": {"type": "categorical", "choices": [4, 8]},
    },
}


def run(folder: Path, name: str, flags: list[str]) -> float:
    began = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lorasearch_tui",
            "search",
            "--no-tui",
            "-c",
            str(folder / "search.json"),
            "--study-name",
            name,
            "--search-mode",
            "grid",
            "--pruner",
            "none",
            *flags,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    took = time.monotonic() - began
    if done.returncode != 0:
        sys.exit(f"{name} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", default="--workers 1", help="flags of the first search")
    parser.add_argument("--two", default="--workers 2", help="flags of the second search")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "search.json").write_text(json.dumps(SEARCH))
        trials = len(SEARCH["search_space"]["learning_rate"]["choices"]) * 2
        print(f"{trials} demo trials of {SEARCH['max_steps']} steps each, {os.cpu_count()} cores", flush=True)
        one = run(folder, "one", args.one.split())
        print(f"{args.one:>28}: {one:7.1f} s  ({trials / one * 3600:6.0f} trials/h)", flush=True)
        two = run(folder, "two", args.two.split())
        print(f"{args.two:>28}: {two:7.1f} s  ({trials / two * 3600:6.0f} trials/h)", flush=True)
        print(f"{'speed-up':>28}: {one / two:7.2f}x")


if __name__ == "__main__":
    main()

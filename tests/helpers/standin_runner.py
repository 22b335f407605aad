"""A search process whose worker is the stand-in: `python standin_runner.py FOLDER NAME
STORAGE N_TRIALS MODE BEHAVIOUR [resume|join]` runs a search in FOLDER as `lorasearch search`
would (a real engine, a real storage), so tests can run several runners on one study in seconds.

`STANDIN_MAX_HERE=K` is `--max-trials-here K`. With `STANDIN_BARRIER=PATH`, the runner writes
`PATH.<pid>.ready` once its imports are done and starts only when `PATH` exists: a test starts
many at the same moment. It prints one JSON line: how it ended, whether it created the study,
and the trials it finished."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.searching import LR_SPACE, STANDIN, ListSink  # noqa: E402
from lorasearch_tui.config import parse_config  # noqa: E402
from lorasearch_tui.events import SearchStarted, TrialFinished  # noqa: E402
from lorasearch_tui.search import SearchOptions, SearchRunner

GRID = {
    "learning_rate": {"type": "categorical", "choices": [0.01, 0.03, 0.05]},
    "lora_r": {"type": "categorical", "choices": [4, 8]},
}


def main() -> None:
    folder, name, storage, n_trials, mode, behaviour = sys.argv[1:7]
    resume = sys.argv[7:] == ["resume"]
    join = sys.argv[7:] == ["join"]
    barrier = os.environ.get("STANDIN_BARRIER")
    if barrier:
        Path(f"{barrier}.{os.getpid()}.ready").touch()
        while not Path(barrier).exists():
            time.sleep(0.01)
    os.chdir(folder)
    space = GRID if mode == "grid" else LR_SPACE
    config = parse_config(
        {
            "max_steps": int(os.environ.get("STANDIN_MAX_STEPS", "4")),
            "eval_steps": 2,
            "base_output_dir": "out",
            "search_space": space,
        },
        "t",
    )
    options = SearchOptions(
        name,
        n_trials=int(n_trials),
        mode=mode,
        pruner="none",
        storage=storage,
        resume=resume,
        join=join,
        max_trials_here=int(os.environ["STANDIN_MAX_HERE"]) if "STANDIN_MAX_HERE" in os.environ else None,
        hardware_interval=None,
        lost_after=float(os.environ.get("STANDIN_LOST_AFTER", "180")),
        worker_command=(sys.executable, STANDIN, behaviour),
    )
    sink = ListSink()
    finished = SearchRunner(None if resume else config, options, sink).run()
    started = next(e for e in sink.events if isinstance(e, SearchStarted))
    here = [e.outcome.number for e in sink.events if isinstance(e, TrialFinished)]
    report = {"reason": finished.reason, "counts": finished.counts, "message": finished.message}
    print(json.dumps({**report, "created": not started.resumed, "here": here}), flush=True)


if __name__ == "__main__":
    main()

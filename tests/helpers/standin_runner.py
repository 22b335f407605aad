"""A search process whose worker is the stand-in: `python standin_runner.py FOLDER NAME
STORAGE N_TRIALS MODE BEHAVIOUR [resume]` runs a search in FOLDER as `lorasearch search` would
(a real engine, a real storage), so tests can run several runners on one study in seconds."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.searching import LR_SPACE, STANDIN, ListSink  # noqa: E402
from lorasearch_tui.config import parse_config  # noqa: E402
from lorasearch_tui.search import SearchOptions, SearchRunner

GRID = {
    "learning_rate": {"type": "categorical", "choices": [0.01, 0.03, 0.05]},
    "lora_r": {"type": "categorical", "choices": [4, 8]},
}


def main() -> None:
    folder, name, storage, n_trials, mode, behaviour = sys.argv[1:7]
    resume = sys.argv[7:] == ["resume"]
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
        hardware_interval=None,
        lost_after=float(os.environ.get("STANDIN_LOST_AFTER", "180")),
        worker_command=(sys.executable, STANDIN, behaviour),
    )
    finished = SearchRunner(None if resume else config, options, ListSink()).run()
    print(json.dumps({"reason": finished.reason, "counts": finished.counts}), flush=True)


if __name__ == "__main__":
    main()

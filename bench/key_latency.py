"""How long a key takes to act while a trial trains: the README's figure comes from here.

    .venv/bin/python bench/key_latency.py [--repeats 8]

Two measurements, each repeated, median and range printed:

1. The engine alone: from `SearchControls.abort_trial()` (what `a` calls) to the trial's
   `TrialFinished` event (the worker killed, the trial recorded FAIL in the study and its
   file), and from `write_results_now()` (what `e` calls) to the best file on disk, while the
   stand-in worker is busy in a trial (tests/helpers/standin_worker.py, `silent`: it started
   its trial and says nothing more, as a worker deep in a training step).
2. The terminal UI over that engine, split in two: from the Pilot's key press `a` to the app
   asking the engine (Textual's key dispatch and the binding), and from that request to the
   app's handler taking the trial's FAIL from the sink's queue and redrawing its panes (the
   engine, the event back, the handler), timed inside the app. Pilot's own polling is no
   clock here: its `pause` waits for the screen to settle, which made a 100 ms abort look
   like 500 ms.

The machine is shared and noisy: the median of one run is the figure to quote, the range says
how much it moves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers.searching import STANDIN, ListSink  # noqa: E402

from lorasearch_tui.config import parse_config  # noqa: E402
from lorasearch_tui.events import SearchControls, TrialFinished, TrialStarted  # noqa: E402
from lorasearch_tui.search import SearchOptions, SearchRunner  # noqa: E402

SPACE = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}


def _runner(folder: Path, name: str, n_trials: int, sink, controls) -> SearchRunner:
    config = parse_config({"base_output_dir": str(folder / "out"), "search_space": SPACE}, "bench")
    options = SearchOptions(
        name,
        n_trials=n_trials,
        mode="random",
        pruner="none",
        hardware_interval=None,
        worker_command=(sys.executable, STANDIN, "silent"),
    )
    return SearchRunner(config, options, sink, controls)


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.001)


def engine(folder: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds from abort_trial() to TrialFinished, and from write_results_now() to the file."""
    sink, controls = ListSink(), SearchControls()
    thread = threading.Thread(target=_runner(folder, "e", repeats + 1, sink, controls).run)
    thread.start()
    aborts, writes = [], []
    best = Path("optuna_studies") / "e_best_params.json"  # beside the cwd, as the search writes it
    try:
        for number in range(repeats):
            _until(lambda n=number: sum(isinstance(e, TrialStarted) for e in sink.events) > n, 60, "a trial")
            time.sleep(0.3)  # deep in its trial: the stand-in said `started` and went silent
            best.unlink(missing_ok=True)
            asked = time.monotonic()
            controls.write_results_now()
            _until(best.exists, 10, "the best file")
            writes.append(time.monotonic() - asked)
            asked = time.monotonic()
            controls.abort_trial()
            _until(lambda n=number: sum(isinstance(e, TrialFinished) for e in sink.events) > n, 10, "abort")
            aborts.append(time.monotonic() - asked)
    finally:
        controls.interrupt()
        thread.join(60)
    return aborts, writes


class _TimedControls(SearchControls):
    """The controls, noting when the app asked for an abort."""

    asked = 0.0

    def abort_trial(self, number: int | None = None) -> None:
        self.asked = time.monotonic()
        super().abort_trial(number)


async def tui(folder: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds from the Pilot's `a` press to the app's abort request, and from that request to
    the app's handler taking the trial's TrialFinished from the queue."""
    from lorasearch_tui.tui import SearchApp
    from lorasearch_tui.tui.messages import TuiSink

    class TimedSink(TuiSink):
        finished: dict[int, float] = {}

        def drain(self) -> list:
            events = super().drain()
            for event in events:
                if isinstance(event, TrialFinished):
                    self.finished[event.number] = time.monotonic()
            return events

    controls, sink = _TimedControls(), TimedSink()
    runner = _runner(folder, "t", repeats + 1, sink, controls)
    runner.prepare()
    app = SearchApp.for_search(runner, controls, sink)
    pressed, shown = [], []
    async with app.run_test(size=(120, 36)) as pilot:
        for number in range(repeats):
            deadline = time.monotonic() + 60
            while number not in app.state.trials:
                assert time.monotonic() < deadline, "no trial started"
                await pilot.pause(0.01)
            await pilot.pause(0.3)
            began = time.monotonic()
            await pilot.press("a")
            while app.state.trials[number].state != "FAIL":
                assert time.monotonic() - began < 10, "the abort was not shown"
                await pilot.pause(0.002)
            pressed.append(controls.asked - began)
            shown.append(sink.finished[number] - controls.asked)
        controls.interrupt()
        await pilot.pause(0.5)
    return pressed, shown


def row(what: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return f"| {what} | {statistics.median(ms):.0f} | {ms[0]:.0f}-{ms[-1]:.0f} | {len(ms)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lorasearch-keys-") as scratch:
        os.chdir(scratch)
        aborts, writes = engine(Path(scratch) / "engine", args.repeats)
        pressed, shown = asyncio.run(tui(Path(scratch) / "tui", args.repeats))
    print("| from the key to its effect, while a trial trains | median ms | range ms | runs |")
    print("|---|---|---|---|")
    print(row("engine: abort_trial() -> trial recorded FAIL", aborts))
    print(row("engine: write_results_now() -> best file written", writes))
    print(row("TUI: `a` pressed (Pilot) -> the app asks the engine", pressed))
    print(row("TUI: the app asks -> its handler has the trial FAIL", shown))


if __name__ == "__main__":
    main()

"""The test files handed to the test processes longest first (`-n 3 --dist loadfile`).

pytest-xdist hands out whole files in the order it keeps them, the files with the most tests
first. Ours are the other way round: the files of many fast tests (the config's checks) went
first and the taught demo's file (4 tests, ~210 s) last, alone at the end while the other
processes had nothing left: in one measured run it began at 631 s and ended at 844 s, with one
process idle from 710 s. Handing out the longest files first (what a scheduler does with jobs
of known length: the long ones cannot be the tail) ends all processes at about the same time.

How long a file takes is read from `tests/durations.json` (seconds of its tests, measured at
`-n 3`; `pytest -n 3 --dist loadfile --record-durations` writes it again). A file it does not
know goes first: a new file may be a long one, and a short one first costs nothing. The order
changes only when tests run, never which tests run or what they see.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"


def known_durations(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per test file, as last recorded; none when the file is missing or unreadable
    (the order is then xdist's own, which is slower, never wrong)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def longest_first(scopes: dict[str, Any], durations: dict[str, float]) -> OrderedDict[str, Any]:
    """The work queue's files, unknown ones first, then by their recorded seconds, longest
    first (a tie keeps xdist's order)."""
    ordered = sorted(scopes.items(), key=lambda item: -durations.get(item[0], math.inf))
    return OrderedDict(ordered)


def make_scheduler(config: Any, log: Any) -> Any:
    """The scheduler for `--dist loadfile`, else None (xdist's own for any other mode)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFileFirst(LoadFileScheduling):
        """xdist's `loadfile` with its work queue put in `longest_first` order the first time
        it hands out work (the queue is built from the processes' collections just before)."""

        _ordered = False

        def _assign_work_unit(self, node: Any) -> None:
            if not self._ordered:
                self.workqueue = longest_first(self.workqueue, known_durations())
                self._ordered = True
            super()._assign_work_unit(node)

    return LongestFileFirst(config, log)


class DurationRecorder:
    """`--record-durations`: adds up each file's setup, call and teardown seconds as the
    reports come in and, at the end of a run that passed (a failed run's times say little of
    the next), writes them into `tests/durations.json` over those of the same files."""

    def __init__(self, path: Path = DURATIONS) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.seconds[report.nodeid.split("::")[0]] += report.duration

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        if exitstatus != 0 or not self.seconds:
            return
        merged = {**known_durations(self.path), **{k: round(v, 1) for k, v in self.seconds.items()}}
        self.path.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")

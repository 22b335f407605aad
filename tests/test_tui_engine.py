"""What each key promises, checked against the real engine inside the terminal UI.

The app runs the real `SearchRunner` (Optuna study, SQLite storage, result files, a real worker
process on the real pipe); only the training is left out: the worker is the stand-in of
tests/helpers/standin_worker.py, so a test takes seconds. What the panes show for given events
is in test_tui.py; the same keys over real training are in test_tui.py's slow tests.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import REPO
from helpers.pilot import text_of, wait_until

from lorasearch_tui.config import parse_config
from lorasearch_tui.errors import ExitCode
from lorasearch_tui.events import SearchControls
from lorasearch_tui.search import SearchOptions, SearchRunner
from lorasearch_tui.store import StudyWatcher
from lorasearch_tui.tui import SearchApp
from lorasearch_tui.tui.messages import TuiSink
from lorasearch_tui.tui.screens import ConfirmQuitScreen
from lorasearch_tui.tui.widgets import StudyHeader

STANDIN = str(REPO / "tests" / "helpers" / "standin_worker.py")
SPACE = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}


def search_config(folder: Path, max_steps: int = 4):
    values = {
        "max_steps": max_steps,
        "eval_steps": 2,
        "base_output_dir": str(folder / "out"),
        "search_space": SPACE,
    }
    return parse_config(values, "test")


def engine_app(folder: Path, behaviour: str, n_trials: int, name: str = "k", max_steps: int = 4, **options):
    """The app over a real search in `folder` whose worker is the stand-in."""
    config = search_config(folder, max_steps)
    controls, sink = SearchControls(), TuiSink()
    runner = SearchRunner(
        config,
        SearchOptions(
            name,
            n_trials=n_trials,
            mode="random",
            pruner="none",
            hardware_interval=None,
            worker_command=(sys.executable, STANDIN, behaviour),
            **options,
        ),
        sink,
        controls,
    )
    runner.prepare()
    return SearchApp.for_search(runner, controls, sink), controls


def study(folder: Path, name: str = "k") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{folder}/optuna_studies/{name}.db")


async def timed(pilot, key: str, predicate, timeout: float = 5.0) -> float:
    """Seconds from pressing `key` until `predicate` holds, polled every 5 ms."""
    began = time.monotonic()
    await pilot.press(key)
    while not predicate():
        assert time.monotonic() - began < timeout, "timed out"
        await pilot.pause(0.005)
    return time.monotonic() - began


async def test_abort_fails_the_running_trial_at_once_and_quit_records_the_next(tmp_path, monkeypatch):
    """`a`: FAIL "aborted by user" while the worker is busy, and the search goes on; `q` asks,
    `n` keeps going, `q` `y` records the running trial FAIL "interrupted" (in the study and its
    file, to run again on --resume) and exits 130."""
    monkeypatch.chdir(tmp_path)
    app, controls = engine_app(tmp_path, "silent", n_trials=3)  # a trial that never ends by itself
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: 0 in app.state.trials, timeout=60)
        await pilot.pause(0.3)
        took = await timed(pilot, "a", lambda: app.state.trials[0].state == "FAIL")
        # The key acted: the stand-in's trial never ends by itself. How fast is
        # bench/key_latency.py's to measure (about 0.1 s); the Pilot's own overhead and a loaded
        # CI machine make a tight bound here a flaky one.
        assert took < 4.0, took
        assert app.state.trials[0].row.fail_reason == "aborted by user"
        await wait_until(pilot, lambda: 1 in app.state.trials, timeout=60)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.press("n")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmQuitScreen) and not controls.interrupted.is_set()
        assert app.state.trials[1].state == "RUNNING"
        await pilot.press("q", "y")
        for _ in range(200):
            if app.return_code is not None:
                break
            await pilot.pause(0.05)
    assert app.return_code == ExitCode.INTERRUPTED
    trials = study(tmp_path).trials
    assert [(t.state.name, t.user_attrs.get("fail_reason")) for t in trials] == [
        ("FAIL", "aborted by user"),
        ("FAIL", "interrupted"),
        ("WAITING", None),  # the quit trial's parameters, queued to run again
    ]
    assert trials[2].user_attrs.get("rerun_of") == 1
    assert (tmp_path / "out/k/trial_1/trial_results.json").is_file()
    # --resume runs the quit trial's params again first; the aborted one is a result, not rerun.
    resume = SearchOptions(
        "k",
        n_trials=3,
        mode="random",
        pruner="none",
        hardware_interval=None,
        resume=True,
        worker_command=(sys.executable, STANDIN, "good"),
    )
    assert SearchRunner(search_config(tmp_path), resume, TuiSink()).run().reason == "completed"
    trials = study(tmp_path).trials
    assert trials[2].user_attrs.get("rerun_of") == 1 and trials[2].params == trials[1].params
    assert [t.state.name for t in trials[2:]] == ["COMPLETE", "COMPLETE"]


async def test_pause_write_resume_and_stop_act_on_the_real_search(tmp_path, monkeypatch):
    """`p`: the running trial ends and no new one starts; `r`: the next starts; `e` during a
    trial writes the result files at once; `s`: the search ends after the running trial."""
    monkeypatch.chdir(tmp_path)
    app, controls = engine_app(tmp_path, "slow", n_trials=5)  # trials of about 2 s
    best = tmp_path / "optuna_studies" / "k_best_params.json"
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: 0 in app.state.trials, timeout=60)
        await pilot.press("p")
        assert "PAUSED" in text_of(app.query_one(StudyHeader))
        await wait_until(pilot, lambda: app.state.trials[0].state == "COMPLETE", timeout=30)
        await pilot.pause(1.5)
        assert 1 not in app.state.trials and len(study(tmp_path).trials) == 1
        best.unlink()  # written at the end of trial 0; `e` must bring it back
        await pilot.press("r")
        await wait_until(pilot, lambda: 1 in app.state.trials and app.state.trials[1].steps >= 1)
        took = await timed(pilot, "e", best.exists)
        assert took < 4.0, took  # 15-60 ms quiet; bench/key_latency.py measures it
        assert app.state.trials[1].state == "RUNNING"  # written during the trial, not at its end
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.finished is not None, timeout=30)
        assert app.state.finished.reason == "stopped"
        assert "search stopped" in text_of(app.query_one(StudyHeader))
        await pilot.press("q")  # the search has ended: no question asked
    assert app.return_code == ExitCode.OK
    assert [t.state.name for t in study(tmp_path).trials] == ["COMPLETE", "COMPLETE"]


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def finished_study(tmp_path, monkeypatch) -> Path:
    """A study of two complete trials, searched by the real engine with the stand-in worker."""
    monkeypatch.chdir(tmp_path)
    config = parse_config({"base_output_dir": str(tmp_path / "out"), "search_space": SPACE}, "test")
    options = SearchOptions(
        "w", n_trials=2, hardware_interval=None, worker_command=(sys.executable, STANDIN, "good")
    )
    assert SearchRunner(config, options, TuiSink()).run().reason == "completed"
    return tmp_path


async def test_watch_offers_no_key_that_changes_the_study_and_writes_nothing(finished_study):
    before = _fingerprint(finished_study)
    sink = TuiSink()
    watcher = StudyWatcher("w", f"sqlite:///{finished_study}/optuna_studies/w.db", sink)
    app = SearchApp.for_watch(watcher, sink, interval=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: len(app.state.trials) == 2, timeout=30)
        for action in ("abort", "stop", "pause", "resume", "write"):
            assert app.check_action(action, ()) is False
        await pilot.press("a", "s", "p", "r", "e")
        await pilot.pause(1.0)  # several polls of the watcher
        assert "WATCHING" in text_of(app.query_one(StudyHeader))
        await pilot.press("q")
    assert app.return_code == ExitCode.OK
    assert _fingerprint(finished_study) == before  # not a byte changed, no file added


@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "colour"])
def test_lorasearch_watch_in_a_terminal_writes_nothing_and_honours_no_color(finished_study, no_color):
    """The command as a user runs it, in a real terminal: keys that would steer a search do
    nothing, not a byte of the study's files changes; with NO_COLOR set, no hue is sent."""
    from helpers.searching import wait_for
    from helpers.terminal import Terminal

    before = _fingerprint(finished_study)
    terminal = Terminal(finished_study, "watch", "w", env={"NO_COLOR": "1" if no_color else None})
    try:
        wait_for(lambda: b"WATCHING" in terminal.screen, timeout=60, what="the watch screen")
        wait_for(lambda: b"COMPLETE" in terminal.screen, timeout=60, what="the study's trials, polled")
        drawn = len(terminal.screen)
        terminal.type("aspre?")
        # keys are served in order: the help screen, drawn after them, says they were served
        wait_for(lambda: b"abort" in terminal.screen[drawn:], timeout=30, what="the help after the keys")
        terminal.type("?q")
        assert terminal.wait(timeout=30) == 0
    finally:
        terminal.hang_up()
    hues = [c for c in _colours(bytes(terminal.screen)) if not _grey(c)]
    assert (not hues) if no_color else hues, hues[:3]  # NO_COLOR: Textual draws in greys
    assert _fingerprint(finished_study) == before


def test_a_refused_search_draws_its_screen_then_ends_in_one_line_and_exit_2(tmp_path):
    """The screen is up before the study opens (the storage's imports alone take most of a
    second); what the checks then refuse closes it and is said in one line, exit code 2, with
    nothing written. Mutations: the app not closed when refused (the test waits in vain), the
    refusal not raised by the command (no line)."""
    from helpers.searching import wait_for
    from helpers.terminal import Terminal

    terminal = Terminal(tmp_path, "search", "--resume", "--study-name", "nosuch")
    try:
        wait_for(lambda: b"nosuch: checking the data" in terminal.screen, timeout=60, what="the first frame")
        code = terminal.wait(timeout=60)
    finally:
        terminal.hang_up()
    screen = bytes(terminal.screen).decode(errors="replace")
    assert code == ExitCode.USAGE, screen[-2000:]
    closed = screen[screen.rindex("\x1b[?1049l") :]  # after the screen is taken down
    assert "error: --resume: no study 'nosuch'" in closed and "Traceback" not in screen, closed
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.slow
def test_a_search_stopped_while_it_prepares_exits_130_and_starts_no_worker(tmp_path):
    """SIGTERM (a scheduler's stop) in the first frame, while the engine checks the data and
    opens the study: the app ends with 130, no worker was started, and the runner's mark in
    the study says it left (other runners need not wait out its lease). Mutation: the engine
    returning early when interrupted after prepare, skipping the run's end (the mark stays)."""
    from helpers.searching import LR_SPACE, config_file, wait_for
    from helpers.terminal import Terminal

    from lorasearch_tui.store import RUNNER_PREFIX

    config = config_file(tmp_path, LR_SPACE)
    db = tmp_path / "optuna_studies" / "early.db"
    terminal = Terminal(tmp_path, "search", "-c", str(config), "--study-name", "early")
    try:
        wait_for(lambda: b"early: checking the data" in terminal.screen, timeout=60, what="the first frame")
        # the storage is made early in the checks: stopped now, it is still checking
        wait_for(db.exists, timeout=60, what="the study's storage")
        os.kill(terminal.pid, signal.SIGTERM)
        code = terminal.wait(timeout=60)
    finally:
        terminal.hang_up()
    assert code == ExitCode.INTERRUPTED, bytes(terminal.screen)[-2000:]
    assert not list(tmp_path.rglob("worker*.log"))  # no worker was started
    attrs = optuna.load_study(study_name="early", storage=f"sqlite:///{db}").user_attrs
    marks = [mark for key, mark in attrs.items() if key.startswith(RUNNER_PREFIX)]
    assert marks and all("ended" in mark for mark in marks), marks  # it said it left


def _colours(screen: bytes) -> list[tuple[int, ...]]:
    """Every colour in the SGR sequences sent: (n,) for the 256-colour palette, (r, g, b)."""
    import re

    found = []
    for params in re.findall(rb"\x1b\[([0-9;]*)m", screen):
        codes = [int(p) for p in params.split(b";") if p]
        i = 0
        while i < len(codes):
            if codes[i] in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5:
                    found.append((codes[i + 2],))
                    i += 3
                    continue
                if codes[i + 1] == 2:
                    found.append(tuple(codes[i + 2 : i + 5]))
                    i += 5
                    continue
            if 30 <= codes[i] <= 37 or 40 <= codes[i] <= 47 or 90 <= codes[i] <= 107:
                found.append((1000 + codes[i],))  # a basic colour: black and white only are grey
            i += 1
    return found


def _grey(colour: tuple[int, ...]) -> bool:
    if len(colour) == 3:
        return colour[0] == colour[1] == colour[2]
    (n,) = colour
    return (
        n in (0, 7, 8, 15, 16, 231)
        or 232 <= n <= 255
        or n in (1030, 1037, 1040, 1047, 1090, 1097, 1100, 1107)
    )


async def test_two_trials_at_once_each_on_its_worker_and_n_picks_which_one_a_aborts(tmp_path, monkeypatch):
    """`--workers 2`: both trials RUNNING in the table with their worker, the header counts
    them; `n` moves the chart to the other one, and `a` aborts that one only."""
    from helpers.pilot import text_of

    from lorasearch_tui.tui.widgets import LossChart, TrialTable

    monkeypatch.chdir(tmp_path)
    # 12 steps of 0.5 s: neither trial ends while the keys are pressed, even on a loaded machine
    app, controls = engine_app(tmp_path, "slow", n_trials=2, workers=2, max_steps=12)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: len(app.state.running_numbers) == 2, timeout=60)
        await wait_until(pilot, lambda: "2 training" in text_of(app.query_one(StudyHeader)), timeout=30)
        table = app.query_one(TrialTable)
        assert "worker" in [str(c.label) for c in table.columns.values()]
        rows = {
            r[0]: r for r in ([str(getattr(c, "plain", c)) for c in table.get_row(k)] for k in table.rows)
        }
        assert rows["0"][1:3] == ["RUNNING", "CPU 0"] and rows["1"][1:3] == ["RUNNING", "CPU 1"]
        header = text_of(app.query_one(StudyHeader))
        assert "trials 0/2  2 running  best" in header and "2 workers: 2 training" in header
        assert app.state.running == 1  # the chart follows the trial started last
        await pilot.press("n")
        assert app.state.running == 0
        # drawn at most every MIN_INTERVAL_S: wait for the redraw, bounded
        await wait_until(pilot, lambda: app.query_one(LossChart)._drawn[0] == 0, timeout=10)
        await pilot.press("a")
        await wait_until(pilot, lambda: app.state.finished is not None, timeout=60)
        await pilot.press("q")
    trials = study(tmp_path).trials
    assert [(t.state.name, t.user_attrs.get("fail_reason")) for t in trials] == [
        ("FAIL", "aborted by user"),
        ("COMPLETE", None),
    ]


async def test_i_shows_the_importances_the_engine_sends_after_each_trial(tmp_path, monkeypatch):
    """`i` before three trials are complete says why there are none; once they are, bars with
    learning_rate first (the stand-in's loss depends on it alone), and the open screen follows."""
    from helpers.pilot import text_of

    from lorasearch_tui.tui.screens import ImportancesScreen

    monkeypatch.chdir(tmp_path)
    app, controls = engine_app(tmp_path, "slow", n_trials=5)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(
            pilot, lambda: len([t for t in app.state.trials.values() if t.state == "COMPLETE"]) == 1
        )
        await pilot.press("i")
        assert isinstance(app.screen, ImportancesScreen)
        needs = "none yet: needs 3 complete trials, the study has 1"
        await wait_until(pilot, lambda: needs in text_of(app.screen.query_one("#importances-text")), 30)
        await wait_until(pilot, lambda: app.state.importances is not None and app.state.importances.values)
        await wait_until(pilot, lambda: "PED-ANOVA" in text_of(app.screen.query_one("#importances-text")), 30)
        said = text_of(app.screen.query_one("#importances-text"))
        assert "PED-ANOVA" in said and "from 3 complete trials" in said and "learning_rate" in said
        await pilot.press("escape")
        assert not isinstance(app.screen, ImportancesScreen)
        controls.stop_after_trial()
        await wait_until(pilot, lambda: app.state.finished is not None)
        await pilot.press("q")

"""The home screen (`lorasearch` alone, in a terminal) on real studies made by the engine.

The app is driven with the Pilot over the CLI's own source of studies (`HomeStudies`), and
once end to end in a real pseudo-terminal; outside a terminal `lorasearch` prints its help.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from helpers.pilot import text_of, wait_until
from helpers.searching import run_standin, wait_for
from textual.widgets import OptionList

from lorasearch_tui.cli._home import HomeStudies
from lorasearch_tui.store import Runner
from lorasearch_tui.tui import HomeApp, HomeChoice
from lorasearch_tui.tui.home import ConfigPickerScreen, FinishedScreen, ResumeScreen, StudyReportScreen


@pytest.fixture
def studies(tmp_path, monkeypatch):
    """`stopped` (2 of 5 trials done) and `busy` (a live search's mark: this process's)."""
    monkeypatch.chdir(tmp_path)
    run_standin(tmp_path, "good", name="stopped", n_trials=2)
    run_standin(tmp_path, "good", name="busy", n_trials=1)
    stopped = optuna.load_study(study_name="stopped", storage="sqlite:///optuna_studies/stopped.db")
    stopped.set_user_attr("lorasearch_settings", {**stopped.user_attrs["lorasearch_settings"], "n_trials": 5})
    busy = optuna.load_study(study_name="busy", storage="sqlite:///optuna_studies/busy.db")
    me = Runner.this_process()
    mark = {
        "host": me.host,
        "pid": me.pid,
        "since": me.since,
        "pidns": me.pidns,
        "renewed": time.time(),
        "grace": 600,
    }
    busy.set_user_attr(me.key, mark)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs/bad.json").write_text(
        json.dumps({"search_space": {"learning_rate": {"type": "loguniform"}}})
    )
    good = {"search_space": {"learning_rate": {"type": "loguniform", "low": 0.001, "high": 0.1}}}
    (tmp_path / "configs/good.json").write_text(json.dumps(good))
    return tmp_path


def rows(app) -> list[list[str]]:
    from textual.widgets import DataTable

    table = app.query_one(DataTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def loaded(pilot) -> None:
    await wait_until(pilot, lambda: len(pilot.app.studies) == 2, timeout=30)
    await wait_until(pilot, lambda: len(rows(pilot.app)) == 2, timeout=30)  # and drawn


async def test_the_list_shows_each_study_and_enter_on_a_running_one_watches_it(studies):
    app = HomeApp(HomeStudies())
    async with app.run_test(size=(140, 30)) as pilot:
        await loaded(pilot)
        shown = rows(app)
        assert [r[0] for r in shown] == ["busy", "stopped"]
        assert shown[0][2] == "1/1" and shown[0][-1] == "RUNNING"
        assert shown[1][2] == "2/5" and shown[1][-1] == "stopped"
        await pilot.press("enter")
    assert app.return_value == HomeChoice("watch", "busy")


async def test_enter_on_a_stopped_study_asks_with_what_is_left_then_resumes(studies):
    app = HomeApp(HomeStudies())
    async with app.run_test(size=(140, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "enter")
        assert isinstance(app.screen, ResumeScreen)
        said = text_of(app.screen.query_one("#resume-text"))
        assert "Resume study stopped (random/none)?" in said and "2 of 5 trials done, 3 left" in said
        await pilot.press("n")
        assert not isinstance(app.screen, ResumeScreen) and app.is_running
        await pilot.press("enter", "y")
    assert app.return_value == HomeChoice("resume", "stopped")


async def test_n_checks_the_picked_config_and_shows_its_error_in_place(studies):
    app = HomeApp(HomeStudies())
    async with app.run_test(size=(140, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, ConfigPickerScreen)
        await pilot.press("enter")  # configs/bad.json, the first
        await wait_until(pilot, lambda: text_of(app.screen.query_one("#configs-error")).strip(), 30)
        error = text_of(app.screen.query_one("#configs-error"))
        assert error.startswith("configs/bad.json: ") and "search_space.learning_rate" in error
        assert isinstance(app.screen, ConfigPickerScreen)
        await pilot.press("down", "enter")
    assert app.return_value == HomeChoice("new", config=Path("configs/good.json"))


async def test_v_shows_the_studys_report_in_the_terminal(studies):
    app = HomeApp(HomeStudies())
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "v")
        assert isinstance(app.screen, StudyReportScreen)
        await wait_until(pilot, lambda: app.screen.report is not None, 30)
        report = app.screen.report
        from rich.console import Console

        console = Console(width=130, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(report)
        text = console.export_text()
        assert "Study stopped: random/none, 2/5 done" in text and "Best: trial" in text
        assert "train it: lorasearch train --config optuna_studies/stopped_best_config.json" in text
        await pilot.press("escape", "q")


def test_lorasearch_alone_is_the_home_screen_in_a_terminal_and_the_help_elsewhere(studies):
    from helpers.terminal import Terminal

    piped = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui"], capture_output=True, text=True, cwd=studies
    )
    assert piped.returncode == 0 and "Commands" in piped.stdout and "search" in piped.stdout
    terminal = Terminal(studies)
    try:
        wait_for(
            lambda: b"stopped" in terminal.screen and b"busy" in terminal.screen, timeout=60, what="home"
        )
        terminal.type("q")
        assert terminal.wait(timeout=30) == 0
    finally:
        terminal.hang_up()


@pytest.fixture
def finished(tmp_path, monkeypatch):
    """`done`: 2 of its 2 trials done, nothing left."""
    monkeypatch.chdir(tmp_path)
    run_standin(tmp_path, "good", name="done", n_trials=2)
    return tmp_path


async def test_enter_on_a_finished_study_opens_it_read_only(finished):
    app = HomeApp(HomeStudies())
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.studies) == 1, timeout=30)
        await pilot.pause(0.2)
        await pilot.press("enter")
        assert isinstance(app.screen, FinishedScreen) and not isinstance(app.screen, ResumeScreen)
        said = text_of(app.screen.query_one("#finished-text"))
        assert "Study done (random/none) is finished: 2 of 2 trials done." in said and "left" not in said
        assert "Enter: open it read-only" in said and "extend it by 2 more trials (to 4" in said
        await pilot.press("enter")
    assert app.return_value == HomeChoice("watch", "done")


async def test_a_finished_study_is_extended_by_n_more_trials_with_a_larger_target(finished):
    app = HomeApp(HomeStudies())
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.studies) == 1, timeout=30)
        await pilot.pause(0.2)
        await pilot.press("enter", "escape")
        assert not isinstance(app.screen, FinishedScreen) and app.is_running
        await pilot.press("enter", "plus", "plus", "minus")
        assert "extend it by 3 more trials (to 5" in text_of(app.screen.query_one("#finished-text"))
        await pilot.press("e")
    assert app.return_value == HomeChoice("resume", "done", n_trials=5)


def test_the_cli_resumes_an_extended_study_with_its_new_target_as_given(tmp_path, monkeypatch):
    """What `lorasearch` does with the home screen's choice: a resume with `--n-trials 5`."""
    from lorasearch_tui import tui
    from lorasearch_tui.cli import search as search_commands

    monkeypatch.chdir(tmp_path)

    choices = iter([HomeChoice("resume", "done", n_trials=5), None])
    monkeypatch.setattr(tui, "HomeApp", lambda source: type("Fake", (), {"run": lambda _: next(choices)})())
    calls = []
    monkeypatch.setattr(search_commands, "run_search", lambda *args, **kwargs: calls.append(args))
    search_commands.home()
    ((options, config, *_),) = calls
    assert (config, options.study_name, options.n_trials, options.resume, options.given) == (
        None,
        "done",
        5,
        True,
        {"n_trials"},
    )


async def test_the_config_picker_lists_the_examples_and_leaves_out_fixed_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    searched = {"search_space": {"learning_rate": {"type": "loguniform", "low": 0.001, "high": 0.1}}}
    (tmp_path / "configs/examples").mkdir(parents=True)
    (tmp_path / "configs/good.json").write_text(json.dumps(searched))
    (tmp_path / "configs/fixed.json").write_text(json.dumps({"lora_r": 8}))  # for `train`
    (tmp_path / "configs/broken.json").write_text("{")  # listed: picking it says why
    (tmp_path / "configs/examples/lr.json").write_text(json.dumps(searched))
    (tmp_path / "configs/examples/fixed_too.json").write_text(json.dumps({"search_space": {}}))
    expected = [Path("configs/broken.json"), Path("configs/good.json"), Path("configs/examples/lr.json")]
    assert HomeStudies().configs() == expected
    app = HomeApp(HomeStudies())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("n")
        assert isinstance(app.screen, ConfigPickerScreen)
        options = app.screen.query_one(OptionList)
        shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert shown == [str(p) for p in expected]
        await pilot.press("down", "down", "enter")
    assert app.return_value == HomeChoice("new", config=Path("configs/examples/lr.json"))

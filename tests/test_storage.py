"""The study's storage: passwords masked wherever a URL is shown, calls that ride out a lock and
then give up in one line, a race to create the same study, and `watch` that never writes."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import optuna
import pytest
from conftest import REPO, write_json
from helpers.searching import LR_SPACE, ListSink, config_file, lorasearch, search

from lorasearch_tui.config import parse_config
from lorasearch_tui.errors import UserError
from lorasearch_tui.events import EvalLogged, StepLogged
from lorasearch_tui.search import SearchOptions, SearchRunner
from lorasearch_tui.store import (
    CONFIG_ATTR,
    SETTINGS_ATTR,
    StorageUnavailable,
    StudyWatcher,
    mask_password,
    open_storage,
)

SPACE = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}
STANDIN = str(REPO / "tests" / "helpers" / "standin_worker.py")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:s3cret@db.example/optuna", "postgresql://user:***@db.example/optuna"),
        ("postgresql://u:pa/ss@h/d", "postgresql://u:***@h/d"),
        ("postgresql://u:p@ss@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("postgresql://:s3cret@h/d", "postgresql://:***@h/d"),
        (
            "postgresql://u@h/d?password=s3cret&sslmode=require",
            "postgresql://u@h/d?password=***&sslmode=require",
        ),
        ("mysql+pymysql://u:x%40y@h/d?charset=utf8mb4", "mysql+pymysql://u:***@h/d?charset=utf8mb4"),
        ("sqlite:///optuna_studies/x.db", "sqlite:///optuna_studies/x.db"),
        ("sqlite:////data/a@b.db", "sqlite:////data/a@b.db"),
    ],
)
def test_a_password_is_masked_however_it_is_written(url, shown):
    assert mask_password(url) == shown


def test_the_storage_url_can_come_from_the_environment_and_its_password_is_never_shown(tmp_path):
    config = write_json(tmp_path / "c.json", {"search_space": SPACE})
    env = {"LORASEARCH_STORAGE": "postgresql://user:s3cret@127.0.0.1:1/optuna"}
    proc = search(tmp_path, "-c", str(config), "--study-name", "s", env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr and "s3cret" not in " ".join(proc.args)
    assert proc.stderr.startswith("error: --storage: cannot open postgresql://user:***@127.0.0.1:1/optuna")
    assert len(proc.stderr.strip().splitlines()) == 1


def hold_lock(db, seconds: float) -> threading.Thread:
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    locked.wait(10)
    return thread


def test_a_storage_call_waits_out_a_lock_longer_than_sqlites_own_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("LORASEARCH_STORAGE_PATIENCE", "30")
    db = tmp_path / "s.db"
    storage = open_storage(f"sqlite:///{db}")
    study = optuna.create_study(study_name="s", storage=storage)
    holder = hold_lock(db, 6)  # SQLite's default busy timeout is 5 s
    started = time.monotonic()
    study.set_user_attr("k", "v")
    assert time.monotonic() - started > 4
    holder.join()
    assert optuna.load_study(study_name="s", storage=f"sqlite:///{db}").user_attrs["k"] == "v"


def test_a_storage_locked_past_the_patience_gives_up_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LORASEARCH_STORAGE_PATIENCE", "1")
    db = tmp_path / "s.db"
    storage = open_storage(f"sqlite:///{db}")
    study = optuna.create_study(study_name="s", storage=storage)
    holder = hold_lock(db, 5)
    with pytest.raises(StorageUnavailable) as caught:
        study.set_user_attr("k", "v")
    holder.join()
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"storage sqlite:///{db}: ")
    assert "database is locked, still after 1 s of retrying" in message


def test_two_processes_creating_the_same_study_is_one_line(tmp_path, monkeypatch):
    """The race: the study did not exist when checked, and another process made it before
    this one could (simulated by hiding the other process's study from the check)."""
    monkeypatch.chdir(tmp_path)
    optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna_studies.db")
    monkeypatch.setattr("lorasearch_tui.store._study.study_exists", lambda name, storage: False)
    config = parse_config({"base_output_dir": str(tmp_path / "out"), "search_space": SPACE}, "test")
    runner = SearchRunner(
        config, SearchOptions("s", storage=f"sqlite:///{tmp_path}/optuna_studies.db"), sink=None
    )
    with pytest.raises(
        UserError, match="study 's' was created in .* by another process a moment ago; add --resume"
    ):
        runner.prepare()


# -- watch never writes ----------------------------------------------------------------------


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_watch_pointed_at_a_foreign_sqlite_file_leaves_it_untouched(tmp_path):
    foreign = tmp_path / "app.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.execute("INSERT INTO notes VALUES ('mine')")
    connection.commit()
    connection.close()
    before = digest(foreign)
    proc = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", "watch", "s", "--storage", f"sqlite:///{foreign}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "holds no Optuna studies" in proc.stderr
    assert digest(foreign) == before
    tables = sqlite3.connect(foreign).execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    assert tables == [("notes",)]


@pytest.fixture
def running_study(tmp_path):
    """A lorasearch study with one RUNNING trial whose folder the test fills."""
    url = f"sqlite:///{tmp_path}/w.db"
    config = parse_config({"search_space": SPACE}, "test")
    study = optuna.create_study(study_name="w", storage=url)
    study.set_user_attr(CONFIG_ATTR, config.to_dict())
    study.set_user_attr(SETTINGS_ATTR, {"mode": "random", "pruner": "median", "n_trials": 4})
    trial = study.ask({"learning_rate": optuna.distributions.FloatDistribution(0.01, 0.1, log=True)})
    folder = tmp_path / "trial_0"
    folder.mkdir()
    trial.set_user_attr("trial_dir", str(folder))
    return url, folder


def test_watch_skips_a_broken_metrics_line_and_reads_on(running_study):
    url, folder = running_study
    lines = [
        json.dumps(
            {"event": "step", "number": 0, "step": 1, "max_steps": 10, "loss": 2.0, "learning_rate": 0.01}
        ),
        "{half a line",
        '{"event": "step", "number": 0, "step": 2, "max_steps": 10, "loss": NaN, "learning_rate": 0.01}',
        json.dumps(
            {
                "event": "step",
                "number": 0,
                "step": "three",
                "max_steps": 10,
                "loss": 1.0,
                "learning_rate": 0.1,
            }
        ),
        json.dumps(
            {"event": "step", "number": 7, "step": 2, "max_steps": 10, "loss": 1.0, "learning_rate": 0.1}
        ),
        json.dumps({"event": "eval", "step": 3, "eval_loss": 1.4}),  # the format before one event format
        json.dumps(
            {"event": "step", "number": 0, "step": 3, "max_steps": 10, "loss": 1.5, "learning_rate": 0.01}
        ),
        json.dumps({"event": "eval", "number": 0, "step": 3, "value": 1.4, "pruned": False}),
    ]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    sink = ListSink()
    StudyWatcher("w", url, sink).poll()
    steps = [e.step for e in sink.events if isinstance(e, StepLogged)]
    evals = [(e.step, e.value) for e in sink.events if isinstance(e, EvalLogged)]
    assert steps == [1, 3] and evals == [(3, 1.4)]


def test_watch_never_blocks_on_a_fifo_where_metrics_should_be(running_study):
    url, folder = running_study
    os.mkfifo(folder / "metrics.jsonl")
    watcher = StudyWatcher("w", url, ListSink())
    done = threading.Event()
    thread = threading.Thread(target=lambda: (watcher.poll(), done.set()), daemon=True)
    thread.start()
    assert done.wait(10), "watch blocked on a FIFO"


def test_watch_of_a_study_writes_nothing_to_its_storage(running_study, tmp_path):
    url, _ = running_study
    db = tmp_path / "w.db"
    before = (digest(db), db.stat().st_mtime_ns)
    watcher = StudyWatcher("w", url, ListSink())
    for _ in range(3):
        watcher.poll()
    assert (digest(db), db.stat().st_mtime_ns) == before
    assert not (tmp_path / "w.db-journal").exists()


def test_an_unreachable_storage_is_a_one_line_error_without_the_password(tmp_path):
    proc = search(
        tmp_path,
        "-c",
        str(config_file(tmp_path, LR_SPACE)),
        "--storage",
        "postgresql://user:s3cret@127.0.0.1:1/optuna",
    )
    assert proc.returncode == 2
    assert "s3cret" not in proc.stderr + proc.stdout and "user:***@" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


class _Both:
    """A sink that hands each event to two sinks (the TUI's and a console's)."""

    def __init__(self, *sinks) -> None:
        self._sinks = sinks

    def emit(self, event) -> None:
        for sink in self._sinks:
            sink.emit(event)


def _cli(cwd, *args: str) -> subprocess.CompletedProcess[str]:
    return lorasearch(cwd, *args, env={"COLUMNS": "400"}, timeout=120)  # no column cut short


async def test_a_password_in_the_storage_url_is_shown_nowhere(tmp_path, monkeypatch, postgres_url):
    """A search on the real PostgreSQL server with a password in its URL (the test server trusts
    local connections, so any password opens it): the console, the TUI header, every file the
    search wrote (logs included), `studies`, `show`, `show --json`, `dashboard` and the study's
    attributes show `***`, never the password.

    Mutation it catches: the `SearchStarted` event carrying the URL unmasked (what the console
    and the TUI header print)."""
    import io
    import socket

    from helpers.pilot import text_of, wait_until
    from rich.console import Console

    from lorasearch_tui.console import SearchConsole
    from lorasearch_tui.events import SearchControls
    from lorasearch_tui.tui import SearchApp
    from lorasearch_tui.tui.messages import TuiSink
    from lorasearch_tui.tui.widgets import StudyHeader

    secret = "pw-s3cret-7"
    url = postgres_url.replace("postgres:@", f"postgres:{secret}@", 1)
    assert secret in url
    monkeypatch.chdir(tmp_path)
    config = parse_config(
        {"max_steps": 4, "eval_steps": 2, "base_output_dir": str(tmp_path / "out"), "search_space": SPACE},
        "t",
    )
    printed = io.StringIO()
    controls, tui = SearchControls(), TuiSink()
    options = SearchOptions(
        "pw",
        n_trials=2,
        mode="random",
        pruner="none",
        storage=url,
        hardware_interval=None,
        worker_command=(sys.executable, STANDIN, "good"),
    )
    runner = SearchRunner(
        config, options, _Both(tui, SearchConsole(Console(file=printed, width=200))), controls
    )
    runner.prepare()
    app = SearchApp.for_search(runner, controls, tui)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.finished is not None)
        await pilot.pause(0.2)
        header = text_of(app.query_one(StudyHeader))
        await pilot.press("q")
    assert "postgres:***@" in header and secret not in header
    assert "postgres:***@" in printed.getvalue() and secret not in printed.getvalue()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if secret.encode() in p.read_bytes()]
    study = optuna.load_study(study_name="pw", storage=url)
    trial_attrs = [t.user_attrs for t in study.trials]
    assert secret not in json.dumps([study.user_attrs, trial_attrs], default=str)
    assert len(study.trials) == 2
    for args in (["studies"], ["show", "pw"], ["show", "pw", "--json"]):
        proc = _cli(tmp_path, *args, "--storage", url)
        assert proc.returncode == 0, proc.stderr
        assert secret not in proc.stdout + proc.stderr, args
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", "dashboard", "pw", "--storage", url, "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        while not lines or "Ctrl+C stops it." not in lines[-1]:
            line = dashboard.stdout.readline()
            assert line, f"dashboard ended before its lines: {lines}"
            lines.append(line)
    finally:
        dashboard.kill()
        dashboard.wait(30)
    assert "postgres:***@" in lines[0] and secret not in "".join(lines)

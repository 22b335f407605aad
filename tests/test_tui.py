"""The terminal UI driven by Pilot: what each pane shows for the events of a scripted engine,
sorting, the trial detail and help, snapshots of the main screen; at the end, the real engine
training in the app (slow). What the steering keys do to a real search is in
test_tui_engine.py."""

from __future__ import annotations

import threading

import pytest
from helpers.fake_engine import FakeEngine
from helpers.pilot import text_of, wait_until
from textual.widgets import Static

from lorasearch_tui.errors import ExitCode
from lorasearch_tui.events import SearchControls, StudyProgress, WorkerStateChanged
from lorasearch_tui.tui import SearchApp
from lorasearch_tui.tui.screens import HelpScreen, TrialDetailScreen
from lorasearch_tui.tui.widgets import ConfigTree, GpuPanel, LogPane, LossChart, StudyHeader, TrialTable


def make_app(
    gpu: bool = False, watch: bool = False, at_once: bool = False
) -> tuple[SearchApp, SearchControls, FakeEngine]:
    controls = SearchControls()
    engine = FakeEngine(controls, gpu=gpu, at_once=at_once)
    return SearchApp(engine, None if watch else controls, clock=lambda: 100.0), controls, engine


async def settle(pilot) -> None:
    """Wait until the scripted events are all on screen."""
    app = pilot.app
    for _ in range(100):
        await pilot.pause(0.05)
        if 3 in app.state.trials and app.state.hardware:
            break
    # a running trial's progress and the GPU pane wait for the app's tick (every 2 s)
    await wait_until(pilot, lambda: app.get_default_screen().drawn, timeout=10)
    # The chart redraws at most every MIN_INTERVAL_S; let its last redraw happen.
    await pilot.pause(LossChart.MIN_INTERVAL_S + 0.3)


def table_rows(app: SearchApp) -> list[list[str]]:
    table = app.query_one(TrialTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row(key)] for key in table.rows]


async def test_each_pane_shows_what_the_events_say():
    app, _, _ = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        header = text_of(app.query_one(StudyHeader))
        assert "trials 3/8" in header and "5.1000" in header and "(#0)" in header
        assert "demo_study" in header and "bayesian/median" in header and "left ~" in header
        rows = table_rows(app)
        assert [r[:2] for r in rows] == [["0", "COMPLETE"], ["1", "PRUNED"], ["2", "OOM"], ["3", "RUNNING"]]
        assert rows[0][2:5] == ["0.0253", "16", "5.1000"] and rows[0][5] == "★"
        columns = [str(c.label) for c in app.query_one(TrialTable).columns.values()]
        assert rows[1][columns.index("pruned@")] == "20" and rows[2][columns.index("peak mem")] == "79.10 GiB"
        tree = app.query_one(ConfigTree)
        labels = [str(node.label) for node in tree.root.children[0].children]
        assert labels[0].startswith("learning_rate = 0.05  loguniform") and labels[1].startswith("lora_r = 8")
        assert "model_name: demo:model" in [str(n.label) for n in tree.root.children[1].children]
        gpu = str(app.query_one(GpuPanel).query_one("#gpu-text").render())
        assert "no NVIDIA GPU found" in gpu and "worker RSS 0.60 GiB" in gpu
        chart = app.query_one(LossChart)
        assert chart._drawn[0] == 3 and chart._drawn[1] == 12  # trial 3, 12 train points
        log = "\n".join(line.text for line in app.query_one(LogPane).lines)
        assert "trial 2 OOM (out of memory (peak 79.10 GiB))" in log and "trial 1 PRUNED at step 20" in log


async def test_the_header_counts_the_whole_study_and_every_worker():
    """Other hosts' trials in the done/target and running figures (from the study's counts),
    and one line for several workers instead of whichever spoke last."""
    app, _, _ = make_app()
    async with app.run_test(size=(160, 36)) as pilot:
        await settle(pilot)
        app.sink.emit(StudyProgress(done=5, running=3, target=8))
        for label, state in (("GPU 0", "training"), ("GPU 1", "training"), ("GPU 2", "loading model")):
            app.sink.emit(WorkerStateChanged(state, 100, "", label))
        await wait_until(pilot, lambda: "1 loading model" in text_of(app.query_one(StudyHeader)), 30)
        header = text_of(app.query_one(StudyHeader))
        assert "trials 5/8  3 running (1 here)" in header
        assert "3 workers: 2 training, 1 loading model" in header


async def test_the_panes_share_a_large_terminal_by_what_they_hold():
    """160x48: the table pane is as tall as the study's trials need (not half the screen of
    empty rows), the chart gets the rest, and config values are not cut."""
    app, _, _ = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table, chart = app.query_one(TrialTable), app.query_one(LossChart)
        assert table.outer_size.height == 8 + 4  # the target's 8 rows, header row, border, scroll bar
        assert chart.outer_size.height > 2 * table.outer_size.height
        tree = app.query_one(ConfigTree)
        longest = max(len(str(n.label)) for n in tree.root.children[0].children)
        assert tree.scrollable_content_region.width >= longest + 4  # + the tree's guides


async def test_gpu_pane_reads_nvml_samples():
    app, _, _ = make_app(gpu=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        gpu = str(app.query_one(GpuPanel).query_one("#gpu-text").render())
        assert "GPU0 NVIDIA H100 80GB HBM3" in gpu and "61.0/80.0 GiB" in gpu
        assert "util 97%" in gpu and "64°C" in gpu and "512 W" in gpu and "worker 58.0 GiB" in gpu


async def test_help_and_the_trial_detail_open_and_close():
    app, _, _ = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(str(app.screen.query_one(Static).render()).split())
        for binding in [*app.BINDINGS, *TrialTable.BINDINGS]:  # every key, from its binding
            assert binding.tooltip and binding.tooltip in shown, binding
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("down", "down", "enter")  # the OOM trial
        assert isinstance(app.screen, TrialDetailScreen)
        detail = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert "Trial 2" in detail and "OOM" in detail and "out of memory (peak 79.10 GiB)" in detail
        assert "learning_rate = 0.3" in detail and "max_seq_length: 256" in detail
        assert "/srv/lorasearch/models/hyperparam_search/demo_study/trial_2" in detail
        await pilot.press("escape")
        assert not isinstance(app.screen, TrialDetailScreen)


async def test_sorting_by_column_with_the_keyboard():
    app, _, _ = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("o", "o")  # from trial order to state, then to learning_rate
        assert [r[0] for r in table_rows_in_order(app)] == ["1", "0", "3", "2"]


async def test_sorting_by_a_header_click():
    app, _, _ = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.query_one(TrialTable)
        columns = list(table.columns.values())
        # the pane's border, then inside the learning_rate header
        x = 1 + sum(c.get_render_width(table) for c in columns[:2]) + 1
        await pilot.click(TrialTable, offset=(x, 1))
        assert [r[0] for r in table_rows_in_order(app)] == ["1", "0", "3", "2"]  # 0.008 first
        await pilot.click(TrialTable, offset=(x, 1))  # again: the other way
        assert [r[0] for r in table_rows_in_order(app)] == ["2", "3", "0", "1"]


def table_rows_in_order(app: SearchApp) -> list[list[str]]:
    table = app.query_one(TrialTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_main_screen(snap_compare, size):
    app, _, _ = make_app(gpu=size == (160, 48), at_once=True)
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_snapshot_trial_detail(snap_compare):
    app, _, _ = make_app(at_once=True)

    async def open_detail(pilot):
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=open_detail)


# -- the real engine ---------------------------------------------------------------------------

FAST_SEARCH = {
    "max_seq_length": 256,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "max_steps": 40,
    "eval_steps": 5,
    "search_space": {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}},
}


@pytest.mark.slow
async def test_real_search_in_the_app_abort_then_stop(tmp_path, monkeypatch):
    """The real demo engine in the app: `a` during trial 0, `s` during trial 1."""
    import optuna

    from lorasearch_tui.config import parse_config
    from lorasearch_tui.hardware import NO_GPU_NOTE
    from lorasearch_tui.search import SearchOptions, SearchRunner
    from lorasearch_tui.tui.messages import TuiSink

    monkeypatch.chdir(tmp_path)
    controls, sink = SearchControls(), TuiSink()
    options = SearchOptions("tui_e2e", n_trials=4, mode="random", pruner="none", hardware_interval=0.5)
    runner = SearchRunner(parse_config(FAST_SEARCH, "e2e"), options, sink, controls)
    runner.prepare()
    app = SearchApp.for_search(runner, controls, sink)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: 0 in app.state.trials and app.state.trials[0].steps >= 3)
        await pilot.press("a")
        await wait_until(pilot, lambda: app.state.trials[0].state == "FAIL")
        await wait_until(pilot, lambda: 1 in app.state.trials and app.state.trials[1].steps >= 2)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.finished is not None)
        assert "stopped" in text_of(app.query_one(StudyHeader))
        # The hardware pane was fed: the GPUs, or (on a host without one) a line saying so.
        sample = app.state.hardware[-1] if app.state.hardware else None
        assert sample is not None and (sample.gpus or sample.note == NO_GPU_NOTE), sample
        await pilot.press("q")
    assert app.return_code == ExitCode.OK
    study = optuna.load_study(study_name="tui_e2e", storage="sqlite:///optuna_studies/tui_e2e.db")
    states = [(t.state.name, t.user_attrs.get("fail_reason")) for t in study.trials]
    assert states == [("FAIL", "aborted by user"), ("COMPLETE", None)]


@pytest.mark.slow
async def test_watch_follows_a_study_a_headless_search_is_writing(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from lorasearch_tui.store import StudyWatcher
    from lorasearch_tui.tui.messages import TuiSink

    config = tmp_path / "c.json"
    config.write_text(json.dumps({**FAST_SEARCH, "max_steps": 20}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lorasearch_tui",
            "search",
            "--no-tui",
            "-c",
            str(config),
            "--study-name",
            "w",
            "--n-trials",
            "3",
            "--search-mode",
            "random",
            "--pruner",
            "none",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "search.err").open("w"),
        env={**os.environ},
    )
    try:
        db = tmp_path / "optuna_studies" / "w.db"
        storage = f"sqlite:///{db}"
        import time

        deadline = time.monotonic() + 120
        import optuna

        # read-only: a writable look would make Optuna's tables while the search makes them, and
        # one of the two fails ("UNIQUE constraint failed: alembic_version", seen in a full run)
        look = f"sqlite:///file:{db}?mode=ro&uri=true"

        def created() -> bool:
            try:
                return db.exists() and any(s.study_name == "w" for s in optuna.get_all_study_summaries(look))
            except Exception:  # the file is being created
                return False

        while not (db.exists() and created()) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        # said, not guessed at later: the search ended early, or never opened its study
        assert db.exists() and created(), (proc.poll(), (tmp_path / "search.err").read_text())
        sink = TuiSink()
        watcher = StudyWatcher("w", storage, sink)
        app = SearchApp.for_watch(watcher, sink, interval=0.3)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(pilot, lambda: any(t.train for t in app.state.trials.values()))
            await wait_until(
                pilot, lambda: sum(t.state == "COMPLETE" for t in app.state.trials.values()) >= 2
            )
            assert app.state.started.study_name == "w" and app.state.total == 3
            finished = [t for t in app.state.trials.values() if t.state == "COMPLETE"]
            assert all(t.row.value is not None and t.evals for t in finished)
            assert app.check_action("abort", ()) is False
            await pilot.press("q")
        assert proc.wait(timeout=120) == 0  # watching never disturbed the search
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_the_header_says_when_the_fault_hook_is_set():
    from dataclasses import replace

    from helpers.fake_engine import script

    started = script()[0]
    assert started.fault_injection is None

    def engine(sink) -> None:
        sink.emit(replace(started, fault_injection="oom@2:2"))

    app = SearchApp(engine, SearchControls(), clock=lambda: 100.0)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.state.started is not None:
                break
        assert "FAULT INJECTION" in text_of(app.query_one(StudyHeader))


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_help_screen_lists_every_key_and_fits(size):
    app, controls, _ = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help")
        text = app.screen.query_one("#help Static")
        width, height = size
        assert text.region.width > 40 and text.region.height >= 12, text.region  # it once was 0 x 0
        assert box.region.right <= width and box.region.bottom <= height
        assert text.region.right <= box.region.right  # no line cut by the box
        shown = [
            line.split()[0] for line in str(text.render()).splitlines() if line and not line[0].isspace()
        ]
        keys = {b.key_display or b.key.split(",")[0] for b in app.BINDINGS}
        keys = {"?" if k == "question_mark" else k for k in keys} | {"o", "Enter", "Esc"}
        assert keys <= set(shown), keys - set(shown)


def written_frames(app) -> list[str]:
    """What the app writes to its terminal from now on, as text (run_test's headless driver
    writes nothing, so the frames are taken where the app hands them to it)."""
    frames: list[str] = []
    display = app._display

    def spy(screen, update) -> None:
        if update is not None and hasattr(update, "render_segments"):
            frames.append(update.render_segments(app.console))
        display(screen, update)

    app._display = spy
    return frames


async def test_a_column_grows_to_the_values_a_running_row_later_holds():
    """A row is first drawn RUNNING with blanks; its cells later hold "1500/1500" and
    "23.40 GiB", which must show whole (they were cut to the blank's width)."""
    from helpers.fake_engine import script

    from lorasearch_tui.events import StepLogged, TrialFinished, TrialOutcome, TrialStarted

    started, drawn = script()[0], threading.Event()

    def engine(sink) -> None:
        sink.emit(started)
        sink.emit(TrialStarted(0, {"learning_rate": 0.01, "lora_r": 8}))
        sink.emit(StepLogged(0, 1, 1500, 2.0, 0.01))
        drawn.wait(30)  # the RUNNING row is on screen before the trial ends
        sink.emit(
            TrialFinished(
                TrialOutcome(
                    number=0,
                    state="COMPLETE",
                    value=1.25,
                    params={"learning_rate": 0.01, "lora_r": 8},
                    duration_s=4000.0,
                    steps=1500,
                    peak_memory_bytes=int(23.4 * 2**30),
                ),
                0,
                1.25,
            )
        )

    app = SearchApp(engine, SearchControls(), clock=lambda: 100.0)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.query_one(TrialTable).row_count:
                break
        drawn.set()
        for _ in range(100):
            await pilot.pause(0.05)
            if app.state.trials[0].state == "COMPLETE":
                break
        await pilot.pause(0.2)
        table = app.query_one(TrialTable)
        columns = [str(c.label) for c in table.columns.values()]
        shown = table_rows(app)[0][columns.index("time") : columns.index("peak mem") + 1]
        assert shown == ["1h06m", "1500/1500", "-", "23.40 GiB"]
        assert table.columns["steps"].content_width >= len("1500/1500")
        assert table.columns["peak mem"].content_width >= len("23.40 GiB")


async def test_a_running_trials_steps_and_samples_are_drawn_at_the_next_tick():
    """Steps, evals and hardware samples alone (no trial starting or ending) are drawn at the
    app's next tick (every 2 s), with the header's clock, not as each comes: batched, never dropped;
    and the config tree follows the running trial's values on the same leaves (never rebuilt: its cursor
    stays). Mutations: `SearchScreen.tick` without its redraw -> the steps never show; without
    the GPU pane's -> the sample never shows; the tree's labels left as built -> no value;
    `TrialTable._update_row` in place without dropping the row's cached render, the line cache,
    or its `refresh_row` -> the terminal never gets "7/10" (or "5/10")."""
    from helpers.fake_engine import script

    from lorasearch_tui.events import EvalLogged, HardwareSampled, StepLogged, TrialStarted

    started, go, more, done = script()[0], threading.Event(), threading.Event(), threading.Event()

    def engine(sink) -> None:
        sink.emit(started)
        sink.emit(TrialStarted(0, {"learning_rate": 0.01, "lora_r": 8}))
        go.wait(30)  # the RUNNING row is on screen: from here on, only progress
        for step in range(1, 6):
            sink.emit(StepLogged(0, step, 10, 2.0 - step / 10, 0.01))
        sink.emit(EvalLogged(0, 5, 1.5))
        sink.emit(HardwareSampled((), 2 * 2**30, 8 * 2**30, int(0.7 * 2**30), "no NVIDIA GPU found"))
        more.wait(30)  # "5/10" drawn: the next steps change a cell drawn with this same table
        sink.emit(StepLogged(0, 7, 10, 1.2, 0.01))
        done.wait(30)

    app = SearchApp(engine, SearchControls(), clock=lambda: 100.0)
    frames = written_frames(app)
    async with app.run_test(size=(160, 48)) as pilot:
        try:
            table, tree = app.query_one(TrialTable), app.query_one(ConfigTree)
            await wait_until(pilot, lambda: table.row_count == 1, timeout=10)
            leaves = list(tree.root.children[0].children)
            assert str(leaves[0].label).startswith("learning_rate = 0.01")
            await pilot.pause(0.3)  # the RUNNING row drawn: its steps cell "-"
            frames.clear()
            go.set()
            columns = [str(c.label) for c in table.columns.values()]
            gpu = app.query_one(GpuPanel).query_one("#gpu-text")

            def drawn() -> bool:
                steps = table_rows(app)[0][columns.index("steps")]
                on_screen = any(" 5/10 " in frame for frame in frames)  # written, not only stored
                return steps == "5/10" and on_screen and "0.70 GiB" in str(gpu.render())

            await wait_until(pilot, drawn, timeout=10)  # a tick is 2 s (a loaded machine: more)
            assert list(tree.root.children[0].children) == leaves  # the same leaves, relabelled
            frames.clear()
            more.set()
            await wait_until(pilot, lambda: any(" 7/10 " in frame for frame in frames), timeout=10)
        finally:
            go.set()
            more.set()
            done.set()  # the engine's thread ends with the test, passed or failed


async def test_watch_of_a_study_nobody_runs_says_so(tmp_path):
    """Its search process is gone: no time left is made up (it once showed "left ~7m46s")."""
    import socket
    import subprocess
    import time

    import optuna

    from lorasearch_tui.config import parse_config
    from lorasearch_tui.store import CONFIG_ATTR, RUNNER_PREFIX, SETTINGS_ATTR, StudyWatcher
    from lorasearch_tui.tui.messages import TuiSink

    gone = subprocess.Popen(["true"])
    gone.wait()
    url = f"sqlite:///{tmp_path}/w.db"
    study = optuna.create_study(study_name="w", storage=url)
    space = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}
    study.set_user_attr(CONFIG_ATTR, parse_config({"search_space": space}, "t").to_dict())
    study.set_user_attr(SETTINGS_ATTR, {"mode": "random", "pruner": "median", "n_trials": 8})
    mark = {"host": socket.gethostname(), "pid": gone.pid, "renewed": time.time() - 600, "grace": 180}
    study.set_user_attr(f"{RUNNER_PREFIX}{socket.gethostname()} {gone.pid}", mark)  # ran out
    distributions = {"learning_rate": optuna.distributions.FloatDistribution(0.01, 0.1, log=True)}
    for value in (1.0, 2.0):
        trial = study.ask(distributions)
        trial.set_user_attr("duration_s", 233.0)
        study.tell(trial, value)
    sink = TuiSink()
    watcher = StudyWatcher("w", url, sink)
    app = SearchApp.for_watch(watcher, sink, interval=0.3)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.state.nobody_runs_it:
                break
        header = text_of(app.query_one(StudyHeader))
        assert "NOT RUNNING" in header and "left ~" not in header, header
        assert app.state.eta_s() is None
        await pilot.press("q")

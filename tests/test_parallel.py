"""Several trials at once: workers placed on GPUs or CPU shares, all served by one loop.

Against the real engine with the stand-in worker (tests/helpers/standin_worker.py): each
trial of the `slow` stand-in takes about 2 s, so two that overlap in the storage ran at once.
Where the workers go on a GPU host is decided from NVML's list of GPUs, given here.
"""

from __future__ import annotations

import threading
import time

import pytest
from helpers.searching import ListSink, run_standin

from lorasearch_tui.errors import UserError
from lorasearch_tui.events import SearchControls, TrialStarted
from lorasearch_tui.search._placement import plan_workers


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)


def overlapping(trials) -> bool:
    spans = [(t.datetime_start, t.datetime_complete) for t in trials]
    return any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1 :])


def test_two_cpu_workers_train_two_trials_at_once(tmp_path):
    began = time.monotonic()
    finished, study, _ = run_standin(tmp_path, "slow", n_trials=4, workers=2)
    took = time.monotonic() - began
    assert finished.reason == "completed"
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert overlapping(trials[:2]) and overlapping(trials[2:])
    assert took < 4 * 2.0 + 3, took  # 4 trials of ~2 s in ~5 s, not ~9 s one at a time
    # Each worker has its own log, and its share of the cores for torch's threads.
    logs = [tmp_path / "out/s/worker.log", tmp_path / "out/s/worker-1.log"]
    cores = len(__import__("os").sched_getaffinity(0))
    for log in logs:
        assert f"OMP_NUM_THREADS={max(1, cores // 2)}" in log.read_text()


def test_the_study_target_is_met_exactly_with_more_workers_than_trials_left(tmp_path):
    finished, study, _ = run_standin(tmp_path, "good", n_trials=5, workers=3)
    assert finished.reason == "completed" and len(study.trials) == 5


def test_a_grid_never_runs_a_point_twice_in_parallel(tmp_path):
    space = {
        "lora_r": {"type": "categorical", "choices": [4, 8, 16]},
        "learning_rate": {"type": "categorical", "choices": [0.01, 0.1]},
    }
    _, study, _ = run_standin(tmp_path, "slow", space=space, n_trials=50, mode="grid", workers=3)
    points = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(points) == 6 and len(set(points)) == 6


def test_pruning_works_with_parallel_trials(tmp_path):
    _, study, _ = run_standin(
        tmp_path, "good", n_trials=16, pruner="median", workers=2, fixed={"max_steps": 8}
    )
    states = [t.state.name for t in study.trials]
    assert "PRUNED" in states and "COMPLETE" in states and len(states) == 16


def run_in_thread(tmp_path, behaviour: str, **options):
    """A stand-in search in a thread; returns the sink, the controls and the thread."""
    from helpers.searching import run_standin

    sink, controls = ListSink(), SearchControls()
    result = {}

    def target() -> None:
        result["run"] = run_standin(tmp_path, behaviour, sink=sink, controls=controls, **options)

    thread = threading.Thread(target=target)
    thread.start()
    return sink, controls, thread, result


def wait_started(sink: ListSink, count: int) -> None:
    deadline = time.monotonic() + 60
    while sum(isinstance(e, TrialStarted) for e in sink.events) < count:
        assert time.monotonic() < deadline, "trials did not start"
        time.sleep(0.01)


def test_abort_ends_the_trial_it_names_and_the_other_runs_on(tmp_path):
    sink, controls, thread, result = run_in_thread(tmp_path, "slow", n_trials=2, workers=2)
    try:
        wait_started(sink, 2)
        time.sleep(0.3)
        controls.abort_trial(1)
    finally:
        thread.join(60)
    _, study, _ = result["run"]
    assert [(t.state.name, t.user_attrs.get("fail_reason")) for t in study.trials] == [
        ("COMPLETE", None),
        ("FAIL", "aborted by user"),
    ]


def test_an_interrupt_records_every_running_trial_and_resume_reruns_them(tmp_path):
    sink, controls, thread, result = run_in_thread(tmp_path, "silent", n_trials=3, workers=2)
    try:
        wait_started(sink, 2)
        time.sleep(0.3)
        controls.interrupt()
    finally:
        thread.join(60)
    finished, study, _ = result["run"]
    assert finished.reason == "interrupted"
    # each interrupted trial's parameters queued as it was recorded (another runner could take them)
    assert [(t.state.name, t.user_attrs.get("fail_reason")) for t in study.trials] == [
        ("FAIL", "interrupted"),
        ("FAIL", "interrupted"),
        ("WAITING", None),
        ("WAITING", None),
    ]
    assert sorted(t.user_attrs.get("rerun_of") for t in study.trials[2:]) == [0, 1]
    params = [t.params for t in study.trials[:2]]
    finished, study, _ = run_standin(tmp_path, "good", n_trials=3, workers=2, resume=True)
    trials = study.trials
    assert finished.reason == "completed" and len(trials) == 5
    assert sorted(t.user_attrs.get("rerun_of") for t in trials[2:4]) == [0, 1]
    assert sorted(map(str, (t.params for t in trials[2:4]))) == sorted(map(str, params))


UUIDS = ["GPU-aaaa", "GPU-bbbb", "GPU-cccc", "GPU-dddd"]


def test_one_worker_per_gpu_pinned_by_uuid():
    plan = plan_workers(None, None, 1, uuids=UUIDS, visible=None)
    assert [(p.label, p.env) for p in plan] == [
        (f"GPU {i}", {"CUDA_VISIBLE_DEVICES": uuid}) for i, uuid in enumerate(UUIDS)
    ]
    chosen = plan_workers("0,3", None, 2, uuids=UUIDS, visible=None)
    assert [p.env["CUDA_VISIBLE_DEVICES"] for p in chosen] == ["GPU-aaaa", "GPU-aaaa", "GPU-dddd", "GPU-dddd"]


def test_gpu_numbers_are_places_in_cuda_visible_devices_when_it_is_set():
    plan = plan_workers("1", None, 1, uuids=UUIDS, visible="2,3")
    assert [(p.label, p.env) for p in plan] == [("GPU 3", {"CUDA_VISIBLE_DEVICES": "3"})]
    assert len(plan_workers(None, None, 1, uuids=UUIDS, visible="GPU-bbbb,0")) == 2


def test_cpu_workers_share_the_cores():
    plan = plan_workers(None, 4, 1, uuids=[], cores=16)
    assert [p.label for p in plan] == ["CPU 0", "CPU 1", "CPU 2", "CPU 3"]
    assert all(p.env == {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"} for p in plan)
    assert plan_workers(None, None, 1, uuids=[]) == plan_workers("none", None, 1, uuids=UUIDS)


@pytest.mark.parametrize(
    ("gpus", "workers", "per_gpu", "uuids", "says"),
    [
        ("0", None, 1, [], "--gpus 0: no NVIDIA GPU is visible here"),
        ("4", None, 1, UUIDS, "--gpus: there is no GPU 4; 4 visible (0 to 3)"),
        ("0,x", None, 1, UUIDS, "--gpus: 'x' is not a GPU number"),
        ("1,1", None, 1, UUIDS, "--gpus: GPU 1 is named twice"),
        (None, 2, 1, UUIDS, "--workers: on GPUs the workers follow --gpus"),
        (None, None, 2, [], "--trials-per-gpu: there is no GPU in use here"),
    ],
)
def test_placement_errors_are_one_clear_line(gpus, workers, per_gpu, uuids, says):
    with pytest.raises(UserError, match="^" + says.replace("(", r"\(").replace(")", r"\)")):
        plan_workers(gpus, workers, per_gpu, uuids=uuids, visible=None)


def test_the_headless_log_says_where_each_trial_starts(tmp_path):
    import io

    from rich.console import Console

    from lorasearch_tui.console import SearchConsole

    out = io.StringIO()
    console = SearchConsole(Console(file=out, width=120))
    with console:
        run_standin(tmp_path, "good", n_trials=2, workers=2, sink=console)
    log = out.getvalue()
    assert "trial   0  starts on CPU 0  " in log and "trial   1  starts on CPU 1  " in log
    # after each trial, the study's own figures (what other runners add shows up there)
    assert "study: 1/2 done, 1 running" in log and "study: 2/2 done, 0 running" in log
    assert "starting the trial worker (CPU 0)" in log and "starting the trial worker (CPU 1)" in log

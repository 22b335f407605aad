"""One study, several runners: two `lorasearch search` processes sharing a real PostgreSQL
server (started by the test session, see conftest.py) or a journal file, as two hosts would.

The second runner joins with `--resume`. A runner killed with `kill -9` leaves a RUNNING trial
whose lease runs out; the other records it lost and runs its parameters again. Each process
gives its host a name of its own (`LORASEARCH_HOST_NAME`), so they stand for two hosts: the
lease, not a pid check, is what tells the survivor.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import optuna
import psutil
import pytest
from helpers.searching import config_file, start_search, wait_for

pytestmark = pytest.mark.slow

GRID = {
    "learning_rate": {"type": "categorical", "choices": [0.01, 0.03, 0.05]},
    "lora_r": {"type": "categorical", "choices": [4, 8]},
}


@pytest.fixture(params=["postgresql", "journal"])
def storage_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"journal://{tmp_path / 'shared' / 'study.log'}"


def runner(cwd: Path, host: str, *args: str) -> tuple[subprocess.Popen[str], Path]:
    """`lorasearch search` in `cwd` as a runner on host `host`."""
    cwd.mkdir(parents=True, exist_ok=True)
    return start_search(cwd, *args, env={"LORASEARCH_HOST_NAME": host})


_STORAGES: dict[str, object] = {}


def load(url: str, name: str = "g") -> optuna.Study:
    """The study, through one storage per URL for the whole test run: the tests poll several
    times a second, and a storage per call kept its server connections until the garbage
    collector came, until PostgreSQL had "too many clients" (seen once, on a slow run)."""
    from lorasearch_tui.store import open_storage

    if url not in _STORAGES:
        _STORAGES[url] = open_storage(url)
    return optuna.load_study(study_name=name, storage=_STORAGES[url])


def study_exists(url: str, name: str = "g") -> bool:
    try:
        load(url, name)
        return True
    except Exception:
        return False


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that count toward the target: finished, not surplus, not interrupted."""
    return [
        t
        for t in study.trials
        if t.state.is_finished()
        and not t.user_attrs.get("lorasearch_surplus")
        and not t.user_attrs.get("interrupted")
    ]


def start_two(tmp_path: Path, url: str, *extra: str):
    """Host a creates the grid study; host b joins it once it exists."""
    out = tmp_path / "runs"
    config = config_file(tmp_path, GRID, base_output_dir=str(out), max_steps=8, eval_steps=4)
    a = runner(
        tmp_path / "a",
        "host-a",
        "-c",
        str(config),
        "--study-name",
        "g",
        "--storage",
        url,
        "--search-mode",
        "grid",
        *extra,
    )
    wait_for(lambda: study_exists(url) or a[0].poll() is not None, timeout=120, what="the study")
    b = runner(tmp_path / "b", "host-b", "--study-name", "g", "--storage", url, "--resume", *extra)
    return a, b


def test_two_runners_finish_exactly_the_grid_once(tmp_path, storage_url):
    """Both started at once with the same `--join` line, as a scheduler starts them; host a may
    finish only 2 trials (`--max-trials-here 2`), host b does the rest."""
    out = tmp_path / "runs"
    config = config_file(tmp_path, GRID, base_output_dir=str(out), max_steps=8, eval_steps=4)
    line = ("-c", str(config), "--study-name", "g", "--storage", storage_url, "--search-mode", "grid")
    a, a_log = runner(tmp_path / "a", "host-a", *line, "--join", "--max-trials-here", "2")
    b, b_log = runner(tmp_path / "b", "host-b", *line, "--join")
    assert a.wait(timeout=600) == 0, a_log.read_text()
    assert b.wait(timeout=600) == 0, b_log.read_text()
    study = load(storage_url)
    done = counted(study)
    assert len(done) == 6 and all(t.state.name in ("COMPLETE", "PRUNED") for t in done)
    points = [tuple(sorted(t.params.items())) for t in done]
    assert len(set(points)) == 6, [(t.number, t.params) for t in study.trials]  # every point once
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]
    hosts = [t.user_attrs["lorasearch_lease"]["host"] for t in done]
    assert hosts.count("host-a") == 2, (hosts, a_log.read_text())  # its share, then it left
    assert "Search completed" in b_log.read_text()
    assert [a_log.read_text().count("Study g"), b_log.read_text().count("Study g")].count(1) == 1


def test_a_runner_killed_mid_trial_is_found_lost_and_its_params_run_again(tmp_path, storage_url):
    (a, a_log), (b, b_log) = start_two(tmp_path, storage_url, "--lost-after", "3")

    def a_is_training() -> bool:
        study = load(storage_url)
        return any(
            t.state.name == "RUNNING"
            and t.user_attrs.get("lorasearch_lease", {}).get("pid") == a.pid
            and (tmp_path / "runs" / "g" / f"trial_{t.number}" / "metrics.jsonl").exists()
            for t in study.trials
        )

    wait_for(a_is_training, timeout=300, what="host a to train a trial")
    victim = next(
        t
        for t in load(storage_url).trials
        if t.state.name == "RUNNING" and t.user_attrs["lorasearch_lease"]["pid"] == a.pid
    )
    for process in [psutil.Process(a.pid), *psutil.Process(a.pid).children(recursive=True)]:
        process.send_signal(signal.SIGKILL)
    a.wait(timeout=30)
    assert b.wait(timeout=600) == 0, b_log.read_text()
    study = load(storage_url)
    lost = study.trials[victim.number]
    assert lost.state.name == "FAIL"
    assert lost.user_attrs["fail_reason"] == f"runner lost (host host-a, pid {a.pid})"
    reruns = [t for t in study.trials if t.user_attrs.get("rerun_of") == victim.number]
    assert len(reruns) == 1 and reruns[0].params == victim.params and reruns[0].state.is_finished()
    assert len(counted(study)) == 6
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]
    assert "runner lost (host host-a" in b_log.read_text()

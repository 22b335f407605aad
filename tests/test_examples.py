"""The recipes in `examples/` run as written (issue 22).

The Slurm array script runs outside Slurm too (its SLURM_* variables fall back to one task):
started 4 times at once against one PostgreSQL study, as an array's tasks start, the copies
finish exactly the study's trials, and the USR1 Slurm sends before a time limit hands the
running trial on to the others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from conftest import REPO
from helpers.searching import LR_SPACE, config_file, wait_for

from lorasearch_tui.store import open_storage

SBATCH = REPO / "examples" / "slurm" / "search.sbatch"


def test_the_sbatch_file_is_bash_and_asks_slurm_for_the_warning_signal():
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)
    text = SBATCH.read_text()
    for line in ("#SBATCH --signal=B:USR1@", "#SBATCH --requeue", "#SBATCH --array="):
        assert line in text
    assert "--join" in text and "LORASEARCH_STORAGE" in text


def test_the_sbatch_file_refuses_to_start_without_a_storage(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LORASEARCH_STORAGE"}
    proc = subprocess.run(["bash", str(SBATCH)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "set LORASEARCH_STORAGE" in proc.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_four_array_tasks_at_once_finish_the_study_and_usr1_hands_a_trial_on(tmp_path, postgres_url):
    """Mutation it catches: SIGUSR1 left to its default (the task dies with its trial RUNNING,
    found only when its lease runs out, 180 s later, and recorded `runner lost`)."""
    runs = tmp_path / "runs"
    config = config_file(tmp_path, LR_SPACE, base_output_dir=str(runs))
    bin_dir = str(Path(sys.executable).parent)  # where `lorasearch` is installed
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "LORASEARCH_STORAGE": postgres_url,
        "CONFIG": str(config),
        "STUDY": "arr",
        "N_TRIALS": "8",
        "LORASEARCH_INJECT_FAULT": "hang@2:3",  # trial 2 stops at step 3: still running when signalled
        "PYTHONUNBUFFERED": "1",
    }
    tasks = []
    for task in range(4):
        folder = tmp_path / f"task{task}"
        folder.mkdir()
        log = (folder / "task.log").open("w")
        proc = subprocess.Popen(
            ["bash", str(SBATCH)],
            cwd=folder,
            env={**env, "SLURM_ARRAY_TASK_ID": str(task)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        tasks.append((proc, folder / "task.log"))
    storage = open_storage(postgres_url)

    def trial_two_host() -> str | None:
        try:
            study = optuna.load_study(study_name="arr", storage=storage)
        except KeyError:
            return None
        two = [t for t in study.trials if t.number == 2 and t.state.name == "RUNNING"]
        if two and (runs / "arr" / "trial_2" / "metrics.jsonl").exists():
            return two[0].user_attrs.get("lorasearch_lease", {}).get("host")
        return None

    wait_for(lambda: trial_two_host() is not None, timeout=300, what="trial 2 to train")
    host = trial_two_host()
    signalled = next(i for i in range(4) if host and host.endswith(f"-task{i}"))
    victim, victim_log = tasks[signalled]
    victim.send_signal(signal.SIGUSR1)  # what `#SBATCH --signal=B:USR1@300` sends the script
    assert victim.wait(timeout=120) == 130, victim_log.read_text()
    # handed over as it left: queued already, not at another task's next lease renewal (30 s)
    queued = optuna.load_study(study_name="arr", storage=storage).trials
    assert [t.user_attrs.get("rerun_of") for t in queued].count(2) == 1, [t.user_attrs for t in queued]
    for i, (proc, log) in enumerate(tasks):
        if i != signalled:
            assert proc.wait(timeout=600) == 0, log.read_text()
    study = optuna.load_study(study_name="arr", storage=storage)
    two = study.trials[2]
    assert two.state.name == "FAIL" and two.user_attrs["fail_reason"] == "interrupted"
    reruns = [t for t in study.trials if t.user_attrs.get("rerun_of") == 2]
    ran = ("COMPLETE", "PRUNED")
    assert len(reruns) == 1 and reruns[0].params == two.params and reruns[0].state.name in ran
    counted = [
        t
        for t in study.trials
        if t.state.is_finished()
        and not t.user_attrs.get("lorasearch_surplus")
        and not t.user_attrs.get("interrupted")
    ]
    assert len(counted) == 8 and all(t.state.name in ran for t in counted)
    made = [log.read_text().count("Study arr\n") for _, log in tasks]
    assert sorted(made) == [0, 0, 0, 1], made  # one task created it, three joined

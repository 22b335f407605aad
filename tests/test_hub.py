"""Models by Hub id, through a stand-in for the Hub on 127.0.0.1 and the real huggingface_hub
code: downloaded once by the search's own process (never by a trial), its commit stored in the
study; the cache used offline afterwards; a missing repo and an offline miss each one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
from helpers.hub_standin import StandInHub
from helpers.searching import LR_SPACE, config_file

from lorasearch_tui.demo import resolve_demo_name

REPO_ID = "acme/tiny-gemma"


def lorasearch(cwd, *args, env):
    full = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    return subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**full, **env},
    )


@pytest.fixture
def hub(demo_cache):
    with StandInHub({REPO_ID: resolve_demo_name("demo:model")}) as standin:
        yield standin


@pytest.mark.slow
def test_a_hub_model_is_downloaded_once_by_the_search_and_its_commit_stored(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf")}
    config = config_file(tmp_path, LR_SPACE, max_steps=2, model_name=REPO_ID)
    done = lorasearch(
        tmp_path, "search", "--no-tui", "-c", str(config), "--study-name", "h", "--n-trials", "2", env=env
    )
    assert done.returncode == 0, done.stderr
    downloads = [p for method, p in hub.requests if method == "GET" and "/resolve/" in p]
    assert any(p.endswith("/model.safetensors") for p in downloads)
    assert len(downloads) == len(set(downloads))  # each file once: the trials read the cache
    study = optuna.load_study(study_name="h", storage=f"sqlite:///{tmp_path}/optuna_studies/h.db")
    stored = study.user_attrs["lorasearch_config"]
    assert stored["model_name"] == REPO_ID and stored["model_revision"] == hub.commits[REPO_ID]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    snapshot = tmp_path / "hf/hub/models--acme--tiny-gemma/snapshots" / hub.commits[REPO_ID]
    assert (snapshot / "config.json").is_file()

    # afterwards the cache is enough, offline: the best config trains without the stand-in
    before = len(hub.requests)
    best = tmp_path / "optuna_studies/h_best_config.json"
    trained = lorasearch(tmp_path, "train", "-c", str(best), "-o", "out", env={**env, "HF_HUB_OFFLINE": "1"})
    assert trained.returncode == 0, trained.stderr
    assert len(hub.requests) == before
    assert (
        json.loads((tmp_path / "out/lorasearch_config.json").read_text())["model_revision"]
        == hub.commits[REPO_ID]
    )


def test_a_missing_repo_and_an_offline_miss_are_one_line(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf")}
    missing = config_file(tmp_path, {}, model_name="acme/nope")
    done = lorasearch(tmp_path, "validate", "-c", str(missing), env=env)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "no model 'acme/nope' on the Hub (or it is private: set HF_TOKEN)" in done.stderr
    offline = config_file(tmp_path, {}, model_name=REPO_ID)
    done = lorasearch(tmp_path, "validate", "-c", str(offline), env={**env, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "is not in the Hugging Face cache and HF_HUB_OFFLINE is set; set HF_HUB_OFFLINE=0" in done.stderr
    assert not any("/resolve/" in p for _, p in hub.requests)
    # and with the network, validate downloads it (a first look at the data and the model)
    done = lorasearch(tmp_path, "validate", "-c", str(offline), env=env)
    assert done.returncode == 0, done.stderr

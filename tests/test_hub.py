"""Models and data sets by Hub id, through a stand-in for the Hub on 127.0.0.1 and the real
huggingface_hub and datasets code: downloaded once by the search's own process (never by a
trial), their commits stored in the study; the cache used offline afterwards; a missing repo, an
offline miss, an unknown config or split each one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
from helpers.hub_standin import StandInHub
from helpers.searching import LR_SPACE, config_file
from helpers.searching import lorasearch as run_cli

from lorasearch_tui.demo import resolve_demo_name

REPO_ID = "acme/tiny-gemma"
DATASET_ID = "acme/receipts-ocr"
GATED_ID = "acme/gated-ocr"


def lorasearch(cwd, *args, env):
    """The CLI online (through the stand-in Hub that `env` names), unless `env` says offline."""
    return run_cli(cwd, *args, env={"HF_HUB_OFFLINE": None, **env})


def dataset_repo(folder):
    """The demo's OCR records as a Hub dataset repo: Parquet shards with a datasets.Image column
    (the bytes inside), in the layout `push_to_hub` writes (data/{split}-*.parquet)."""
    import datasets

    source = resolve_demo_name("demo:ocr")
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    data = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": (source.parent / r["image_path"]).read_bytes(), "path": None} for r in rows],
            "text": [r["ocr_text"] for r in rows],
        },
        features=features,
    )
    (folder / "data").mkdir(parents=True)
    data.select(range(0, 40)).to_parquet(str(folder / "data/train-00000-of-00001.parquet"))
    data.select(range(40, 48)).to_parquet(str(folder / "data/test-00000-of-00001.parquet"))
    return folder


@pytest.fixture
def hub(demo_cache, tmp_path):
    data = dataset_repo(tmp_path / "dataset-repo")
    models = {REPO_ID: resolve_demo_name("demo:model")}
    with StandInHub(models, datasets={DATASET_ID: data, GATED_ID: data}, gated={GATED_ID}) as standin:
        yield standin


@pytest.mark.slow
def test_a_hub_model_and_data_set_are_downloaded_once_by_the_search_and_their_commits_stored(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf")}
    config = config_file(
        tmp_path,
        LR_SPACE,
        max_steps=2,
        model_name=REPO_ID,
        input_data=DATASET_ID,
        train_split="train",
        val_split="test",
    )
    done = lorasearch(
        tmp_path, "search", "--no-tui", "-c", str(config), "--study-name", "h", "--n-trials", "2", env=env
    )
    assert done.returncode == 0, done.stderr
    downloads = [p for method, p in hub.requests if method == "GET" and "/resolve/" in p]
    assert any(p.endswith("/model.safetensors") for p in downloads)
    assert any(p.endswith("/data/train-00000-of-00001.parquet") for p in downloads)
    assert any(p.endswith("/data/test-00000-of-00001.parquet") for p in downloads)
    assert len(downloads) == len(set(downloads))  # each file once: the trials read the cache
    study = optuna.load_study(study_name="h", storage=f"sqlite:///{tmp_path}/optuna_studies/h.db")
    stored = study.user_attrs["lorasearch_config"]
    assert stored["model_name"] == REPO_ID and stored["model_revision"] == hub.commits[REPO_ID]
    assert stored["input_data"] == DATASET_ID and stored["data_revision"] == hub.commits[DATASET_ID]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    snapshot = tmp_path / "hf/hub/models--acme--tiny-gemma/snapshots" / hub.commits[REPO_ID]
    assert (snapshot / "config.json").is_file()

    # afterwards the cache is enough, offline: the best config trains without the stand-in
    before = len(hub.requests)
    best = tmp_path / "optuna_studies/h_best_config.json"
    trained = lorasearch(tmp_path, "train", "-c", str(best), "-o", "out", env={**env, "HF_HUB_OFFLINE": "1"})
    assert trained.returncode == 0, trained.stderr
    assert f"Data: 40 train and 8 val examples from {DATASET_ID}" in trained.stdout + trained.stderr
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


def test_hub_data_set_errors_are_one_line(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf")}

    def refused(extra_env=None, **fixed):
        config = config_file(tmp_path, {}, **fixed)
        done = lorasearch(tmp_path, "validate", "-c", str(config), env={**env, **(extra_env or {})})
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        return done.stderr

    assert "no dataset 'acme/nope' on the Hub (or it is private: set HF_TOKEN)" in refused(
        input_data="acme/nope"
    )
    offline = refused({"HF_HUB_OFFLINE": "1"}, input_data=DATASET_ID)
    assert f"the Hub dataset {DATASET_ID} (main) is not in the cache and HF_HUB_OFFLINE is set" in offline
    assert not any("/resolve/" in p for _, p in hub.requests)
    assert (
        "data_config: BuilderConfig 'french' not found. Available: ['default']; set data_config"
        in refused(input_data=DATASET_ID, data_config="french")
    )
    assert f"data_revision: the dataset {DATASET_ID} has no revision 'v9'" in refused(
        input_data=DATASET_ID, data_revision="v9"
    )
    assert f"model_revision: {REPO_ID} has no revision 'v9'" in refused(
        model_name=REPO_ID, model_revision="v9"
    )
    # once downloaded (with progress), the cache serves it offline, at the commit `main` was
    config = config_file(tmp_path, {}, input_data=DATASET_ID, train_split="train[:30]", val_split="test")
    assert lorasearch(tmp_path, "validate", "-c", str(config), env=env).returncode == 0
    done = lorasearch(tmp_path, "validate", "-c", str(config), env={**env, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert (
        "train_split 'train[:30]': 30 examples" in done.stdout
        and "val_split   'test': 8 examples" in done.stdout
    )
    assert f"Data: {DATASET_ID} (commit {hub.commits[DATASET_ID][:12]}) — OCR" in done.stdout
    wrong_split = refused(
        {"HF_HUB_OFFLINE": "1"}, input_data=DATASET_ID, train_split="train", val_split="dev"
    )
    assert f"val_split: 'dev' names no split 'dev' of {DATASET_ID}; its splits are train, test" in wrong_split
    gated = refused(input_data=GATED_ID)
    assert f"Dataset '{GATED_ID}' is a gated dataset on the Hub" in gated and "set HF_TOKEN" in gated
    unreachable = refused({"HF_ENDPOINT": "http://127.0.0.1:9"}, input_data="acme/elsewhere")
    assert "cannot reach the Hub to download acme/elsewhere (ConnectError); check the network" in unreachable
    # a mistyped local file is a missing file, not a data set to look for
    typo = refused(input_data="data/trian.jsonl")
    assert "data file not found" in typo and "Hub" not in typo


def test_an_upload_that_cannot_reach_the_hub_is_one_line(tmp_path):
    """(The merge itself is tested in test_merge.py; this is what follows it when the network is
    gone: in a child process, whose huggingface_hub reads HF_HUB_OFFLINE and HF_ENDPOINT anew.)"""
    folder = tmp_path / "merged"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    script = (
        "from pathlib import Path\n"
        "from lorasearch_tui.errors import UserError\n"
        "from lorasearch_tui.hub import push_folder\n"
        f"try:\n    push_folder(Path({str(folder)!r}), 'acme/merged')\n"
        "except UserError as exc:\n    print('REFUSED', exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert (
        "REFUSED --push-to-hub: cannot reach the Hub to upload to acme/merged (ConnectError)" in done.stdout
    ), done.stdout + done.stderr
    assert f"the merged model stays in {folder}" in done.stdout


def test_what_is_downloaded_cannot_be_searched():
    """Downloads happen once, for the fixed config, before the study: a Hub id or a revision
    that changed per trial would send a trial to the network."""
    from lorasearch_tui.config import parse_config
    from lorasearch_tui.errors import UserError

    for space, says in (
        (
            {"data_revision": {"type": "categorical", "choices": ["main", "v2"]}},
            "search_space.data_revision: cannot",
        ),
        (
            {"input_data": {"type": "categorical", "choices": ["demo:ocr", DATASET_ID]}},
            f"'{DATASET_ID}' is a Hub id",
        ),
        ({"model_name": {"type": "categorical", "choices": [REPO_ID]}}, f"'{REPO_ID}' is a Hub id"),
    ):
        with pytest.raises(UserError, match=says):
            parse_config({"search_space": space}, "c.json")
    parse_config(
        {"search_space": {"input_data": {"type": "categorical", "choices": ["demo:ocr", "a/b.jsonl"]}}}, "c"
    )

"""A shared artifact store (`--artifacts`): each complete trial's adapter goes where every host
finds it, and `merge` (through `find_adapter`) and `evaluate` fetch it on a host without the
trial's folder. Real searches, the file store and a real S3 API (moto's server on 127.0.0.1) reached
through real boto3; a failed upload is one line and never the trial's failure."""

from __future__ import annotations

import shutil

import optuna
import pytest
from helpers.searching import LR_SPACE, config_file, search, study_of

from lorasearch_tui.evaluation._candidates import study_candidates
from lorasearch_tui.results import find_adapter
from lorasearch_tui.store import ARTIFACTS_ATTR

pytestmark = pytest.mark.slow


def _elsewhere(cwd, name: str) -> bytes:
    """Move the study's trial folders away, as on another host; the best adapter's weights."""
    folder = cwd / "models/hyperparam_search" / name
    weights = next(folder.glob("trial_*/adapter/adapter_model.safetensors")).read_bytes()
    shutil.move(folder, cwd / "moved-away")
    return weights


@pytest.fixture
def s3(monkeypatch):
    """A real S3 API on 127.0.0.1 (moto's server) with bucket `runs`; boto3 finds it through
    its own environment variables, as a user's boto3 finds theirs."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket="runs")
    yield client
    server.stop()


def test_a_trial_fetched_from_the_file_store_on_a_host_without_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LORASEARCH_CACHE_DIR", str(tmp_path / "cache"))
    store = tmp_path / "shared-store"
    config = config_file(tmp_path, LR_SPACE)
    done = search(
        tmp_path, "-c", str(config), "--study-name", "a", "--n-trials", "1", "--artifacts", f"file://{store}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    study = study_of(tmp_path, "a")
    assert study.user_attrs[ARTIFACTS_ATTR] == f"file://{store}"
    trial = study.trials[0]
    names = [m.filename for m in optuna.artifacts.get_all_artifact_meta(trial, storage=study._storage)]
    assert names == ["adapter.tar"]
    assert [m.filename for m in optuna.artifacts.get_all_artifact_meta(study)] == [
        "trial_0_trial_results.json"
    ]

    weights = _elsewhere(tmp_path, "a")
    adapter, params = find_adapter("a", f"sqlite:///{tmp_path}/optuna_studies/a.db")
    cached = adapter.parent  # keyed by the upload's id: a study name used again gets its own
    assert cached.parent == tmp_path / "cache/artifacts/a" and cached.name.startswith("trial_0-")
    assert (adapter / "adapter_model.safetensors").read_bytes() == weights
    assert params.learning_rate == trial.params["learning_rate"]
    shutil.rmtree(store)  # fetched once: the cache serves it now
    assert find_adapter("a", f"sqlite:///{tmp_path}/optuna_studies/a.db")[0] == adapter
    trial_0, base = study_candidates(study, [0])  # what `evaluate a` scores
    assert trial_0.adapter == adapter and base.adapter is None

    # the study's store is the study's: a runner given another one is refused in one line
    other = search(tmp_path, "--study-name", "a", "--resume", "--artifacts", f"file://{tmp_path}/else")
    assert other.returncode == 2 and f"study 'a' keeps its artifacts in file://{store}" in other.stderr


def test_a_trial_fetched_from_s3_and_a_failed_upload_fails_no_trial(tmp_path, monkeypatch, s3):
    monkeypatch.setenv("LORASEARCH_CACHE_DIR", str(tmp_path / "cache"))
    config = config_file(tmp_path, LR_SPACE)
    done = search(
        tmp_path,
        "-c",
        str(config),
        "--study-name",
        "s",
        "--n-trials",
        "1",
        "--artifacts",
        "s3://runs/team/ocr",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="runs")["Contents"]]
    assert len(keys) == 2 and all(k.startswith("team/ocr/") for k in keys)  # the adapter, the results
    weights = _elsewhere(tmp_path, "s")
    adapter, _ = find_adapter("s", f"sqlite:///{tmp_path}/optuna_studies/s.db")
    assert (adapter / "adapter_model.safetensors").read_bytes() == weights
    assert "test-secret" not in done.stdout + done.stderr

    # a bucket that is not there: each upload retried, then one line; the trial is a result
    other = tmp_path / "other"
    other.mkdir()
    config = config_file(other, LR_SPACE)
    done = search(
        other, "-c", str(config), "--study-name", "m", "--n-trials", "1", "--artifacts", "s3://no-such-bucket"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert study_of(other, "m").trials[0].state == optuna.trial.TrialState.COMPLETE
    said = done.stdout + done.stderr
    assert said.count("trial 0: not uploaded to the artifact store") == 2 and "NoSuchBucket" in said


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://host/x", "neither file:///PATH nor s3://BUCKET[/PREFIX]"),
        ("s3://", "neither file:///PATH nor s3://BUCKET[/PREFIX]"),
        ("file://host/x", "neither file:///PATH nor s3://BUCKET[/PREFIX]"),
        ("file:relative/path", "neither file:///PATH nor s3://BUCKET[/PREFIX]"),
        ("s3://AKIA123:s3cr3t@bucket/x", "put no credentials in the URL"),
    ],
)
def test_a_url_that_names_no_store_is_one_line_and_writes_nothing(tmp_path, url, said):
    config = config_file(tmp_path, LR_SPACE)
    done = search(tmp_path, "-c", str(config), "--study-name", "b", "--artifacts", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr and "s3cr3t" not in done.stderr
    assert not (tmp_path / "optuna_studies").exists()

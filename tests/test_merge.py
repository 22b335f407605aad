"""`lorasearch merge`: a search's adapter merged into a 16-bit copy of its base, saved with its
processor; the merged model loads and measures what the adapter measures on that base; with
`--push-to-hub` the same files reach a Hub repo (a stand-in on 127.0.0.1)."""

from __future__ import annotations

import pytest
from helpers.hub_standin import StandInHub
from helpers.searching import LR_SPACE, config_file, lorasearch, search

pytestmark = pytest.mark.slow


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_trial_merged_loads_and_measures_what_its_adapter_does(tmp_path, monkeypatch):
    from peft import PeftModel

    from lorasearch_tui.data import load_data
    from lorasearch_tui.results import find_adapter
    from lorasearch_tui.store import open_existing
    from lorasearch_tui.training import evaluate_loss, load_base

    config = config_file(tmp_path, LR_SPACE, max_steps=4)
    assert search(tmp_path, "-c", str(config), "--study-name", "m", "--n-trials", "2").returncode == 0
    with StandInHub(uploads=tmp_path / "hub") as hub:
        env = {"HF_HUB_OFFLINE": None, "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_test"}
        done = lorasearch(tmp_path, "merge", "m", "--out", "merged", "--push-to-hub", "acme/merged", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "merged/config.json").is_file() and (
        tmp_path / "merged/processor_config.json"
    ).is_file()
    assert f"pushed: {hub.url}/acme/merged/commit/" in done.stdout
    merged_files = _files(tmp_path / "merged")
    pushed = _files(tmp_path / "hub/acme/merged")
    assert pushed == merged_files and any(p.suffix == ".safetensors" for p in pushed)
    offline = lorasearch(tmp_path, "merge", "m", "--out", "again", "--push-to-hub", "acme/merged")
    assert offline.returncode == 2 and "HF_HUB_OFFLINE is set" in offline.stderr
    assert not (tmp_path / "again").exists()  # refused before merging
    again = lorasearch(tmp_path, "merge", "m:1", "--out", "merged")
    assert again.returncode == 2 and "already holds a model" in again.stderr

    monkeypatch.chdir(tmp_path)  # the study's storage and trial folders are relative to where it ran
    adapter, params = find_adapter("m")
    assert adapter.parent.name == f"trial_{open_existing('m').best_trial.number}"
    full = params.model_copy(update={"load_in_4bit": False})
    data = load_data(full, decode_images=False)
    base = load_base(full)
    with_adapter = evaluate_loss(
        base, PeftModel.from_pretrained(base.model, adapter), full, data, tmp_path / "a"
    )
    merged_params = full.model_copy(update={"model_name": str(tmp_path / "merged")})
    merged = load_base(merged_params)
    alone = evaluate_loss(merged, merged.model, merged_params, data, tmp_path / "b")
    assert alone == pytest.approx(with_adapter, rel=2e-2)  # the merge is saved in bf16


def test_what_cannot_be_merged_is_one_line(tmp_path):
    config = config_file(tmp_path, LR_SPACE, max_steps=2)
    assert search(tmp_path, "-c", str(config), "--study-name", "m", "--n-trials", "1").returncode == 0
    for source, said in (
        ("m:7", "study 'm' has no trial 7"),
        ("nope", "no study 'nope'"),
        (str(tmp_path), "holds no LoRA adapter"),
        ("m:x", "is neither a folder nor STUDY or STUDY:N"),
    ):
        done = lorasearch(tmp_path, "merge", source, "--out", "out")
        assert done.returncode == 2 and said in done.stderr, (source, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1
    for flags, said in (
        (["--private"], "--private: only with --push-to-hub REPO"),
        (["--push-to-hub", "not a repo"], "--push-to-hub: 'not a repo' is not a repo id; give owner/name"),
    ):
        done = lorasearch(tmp_path, "merge", "m", "--out", "out", *flags)
        assert done.returncode == 2 and said in done.stderr, (flags, done.stderr)
    assert not (tmp_path / "out").exists()  # refused before merging

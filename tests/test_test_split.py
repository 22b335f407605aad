"""The held-out test split: `test_data` / `test_split` select records that only `evaluate --split
test` and `validate` read; a search's data never holds them, and a test split that shares a
record with train or val is refused, with the splits that would be disjoint."""

from __future__ import annotations

import json

import pytest
from conftest import write_json, write_jsonl

from lorasearch_tui.config import TrainParams
from lorasearch_tui.data import load_data
from lorasearch_tui.errors import UserError


def _keys(examples):
    return [(e.index, e.completion) for e in examples]


def test_a_test_split_of_the_input_is_read_only_when_asked(demo_data):
    three = {
        "input_data": str(demo_data),
        "train_split": "train[:80%]",
        "val_split": "train[80%:90%]",
        "test_split": "train[90%:]",
    }
    searched = load_data(TrainParams(**three), decode_images=False)
    assert searched.test == []  # what a search loads
    held = load_data(TrainParams(**three), decode_images=False, with_test=True)
    assert _keys(held.train) == _keys(searched.train) and _keys(held.val) == _keys(searched.val)
    n = held.n_records
    assert [e.index for e in held.test] == list(range(round(n * 0.9), n))
    assert not {e.index for e in held.test} & {e.index for e in (*held.train, *held.val)}
    # a plain fraction takes the end of the data, as val_split's does
    fraction = load_data(TrainParams(**{**three, "test_split": "0.1"}), decode_images=False, with_test=True)
    assert _keys(fraction.test) == _keys(held.test)


def test_a_test_split_that_shares_records_is_refused(demo_data):
    with pytest.raises(UserError) as caught:
        load_data(
            TrainParams(input_data=str(demo_data), test_split="train[85%:]"),
            decode_images=False,
            with_test=True,
        )
    n = load_data(TrainParams(input_data=str(demo_data)), decode_images=False).n_records
    shared = n - round(n * 0.85) - (n - round(n * 0.9))
    assert str(caught.value).startswith(
        f"test_split: 'train[85%:]' shares {shared} records with train_split 'train[:90%]'"
    )
    assert "make the splits disjoint" in str(caught.value)


def test_a_separate_test_file_takes_all_its_records(demo_data, tmp_path):
    rows = [json.loads(line) for line in demo_data.read_text(encoding="utf-8").splitlines() if line.strip()]
    test_file = write_jsonl(demo_data.parent / "held_out_test.jsonl", rows[:7])
    try:
        params = TrainParams(input_data=str(demo_data), test_data=str(test_file))
        held = load_data(params, decode_images=False, with_test=True)
        assert [e.completion for e in held.test] == [
            e.completion
            for e in load_data(
                TrainParams(input_data=str(test_file), train_split="train"), decode_images=False
            ).train
        ]
        # never opened unless asked: a search runs even where the test file is gone
        test_file.unlink()
        assert load_data(params, decode_images=False).test == []
        with pytest.raises(UserError, match="held_out_test.jsonl"):
            load_data(params, decode_images=False, with_test=True)
    finally:
        test_file.unlink(missing_ok=True)


def test_the_test_keys_are_never_searched(tmp_path, demo_data):
    from lorasearch_tui.config import load_config

    path = write_json(
        tmp_path / "c.json",
        {
            "input_data": str(demo_data),
            "search_space": {"test_split": {"type": "categorical", "choices": ["0.1"]}},
        },
    )
    with pytest.raises(UserError, match=r"search_space.test_split: the held-out test records are never seen"):
        load_config(path)


def test_validate_counts_the_test_records_and_refuses_an_overlap(demo_data, tmp_path):
    from typer.testing import CliRunner

    from lorasearch_tui.cli import app

    good = write_json(
        tmp_path / "good.json",
        {
            "input_data": str(demo_data),
            "train_split": "train[:80%]",
            "val_split": "train[80%:90%]",
            "test_split": "0.1",
        },
    )
    result = CliRunner().invoke(app, ["validate", "--config", str(good)])
    assert result.exit_code == 0, result.output
    assert "test_split  '0.1':" in result.output and "held out" in result.output
    bad = write_json(tmp_path / "bad.json", {"input_data": str(demo_data), "test_split": "0.1"})
    result = CliRunner().invoke(app, ["validate", "--config", str(bad)])
    assert result.exit_code == 2
    assert "test_split: '0.1' shares" in result.output and "Traceback" not in result.output


def test_a_search_refuses_an_overlapping_test_split_before_it_trains(demo_data, tmp_path):
    """The overlap is refused by the search itself (its preflight), not only by validate."""
    from lorasearch_tui.config import load_config
    from lorasearch_tui.search._preflight import preflight

    config = load_config(
        write_json(
            tmp_path / "c.json",
            {
                "input_data": str(demo_data),
                "test_split": "0.1",
                "search_space": {"learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-2}},
            },
        )
    )
    with pytest.raises(UserError, match=r"^test_split: '0.1' shares"):
        preflight(config, "bayesian", "median", "s", True)

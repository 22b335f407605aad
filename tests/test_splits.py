"""Split forms: the Hugging Face split syntax (parsed by datasets.ReadInstruction) and plain fractions."""

from __future__ import annotations

import pytest

from lorasearch_tui.splits import parse_split


@pytest.mark.parametrize(
    ("spec", "side", "n", "expected"),
    [
        ("train[:90%]", "head", 10, range(0, 9)),
        ("train[90%:]", "tail", 10, range(9, 10)),
        ("train[:400]", "head", 500, range(0, 400)),
        ("train[400:]", "tail", 500, range(400, 500)),
        ("train[10:20]", "head", 50, range(10, 20)),
        ("train[-10:]", "tail", 50, range(40, 50)),
        ("train[:-10%]", "head", 50, range(0, 45)),
        ("train", "head", 7, range(0, 7)),
        (" train[ : 50% ] ", "head", 4, range(0, 2)),
        ("0.9", "head", 10, range(0, 9)),
        ("0.1", "tail", 10, range(9, 10)),
        ("1", "head", 3, range(0, 3)),
        ("train[:90%]", "head", 423 + 48, range(0, 424)),  # percent bounds round to nearest
    ],
)
def test_split_selects_the_expected_records(spec, side, n, expected):
    assert parse_split(spec, side).select({"train": n}) == [("train", expected)]


def test_named_splits_and_sums_are_the_librarys():
    sizes = {"train": 10, "validation": 4, "test": 6}
    assert parse_split("validation", "tail").select(sizes) == [("validation", range(0, 4))]
    assert parse_split("train[:2]+test[50%:]").names == ["train", "test"]
    assert parse_split("train[:2]+test[50%:]").select(sizes) == [
        ("train", range(0, 2)),
        ("test", range(3, 6)),
    ]


@pytest.mark.parametrize("n", [5, 15, 25, 35, 101])
def test_plain_fractions_neither_overlap_nor_leave_a_record_out(n):
    train = parse_split("0.9", "head").select({"train": n})[0][1]
    val = parse_split("0.1", "tail").select({"train": n})[0][1]
    assert not set(train) & set(val)
    assert len(train) + len(val) == n
    train = parse_split("0.8", "head").select({"train": n})[0][1]
    val = parse_split("0.2", "tail").select({"train": n})[0][1]
    assert not set(train) & set(val)
    assert len(train) + len(val) == n


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("my split[:10%]", "is not a split"),
        ("train[:90]%", "is not a split"),
        ("train[:abc]", "is not a split"),
        ("train[:1.5]", "is not a split"),
        ("train[:150%]", "Percent slice boundaries must be > -100 and < 100"),
        ("train[10%:400]", "mixes a percentage and a record count"),
        ("0", "plain fraction must be in (0, 1]"),
        ("2.5", "plain fraction must be in (0, 1]"),
    ],
)
def test_bad_splits_explain_the_form(spec, message):
    with pytest.raises(
        ValueError,
        match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]"),
    ):
        parse_split(spec)

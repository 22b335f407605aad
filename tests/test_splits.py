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


SPECS = [
    "train",
    "train.a",
    "train[:90%]",
    "train[90%:]",
    "train[:-10%]",
    "train[10:-10]",
    "train[:]",
    "train[1_000:]",
    "train[_:]",
    "train[:1__0%]",
    "train[:90%](pct1_dropremainder)",
    "train[:90%](closest)",
    "train[:90%](nearest)",
    "train[:90](closest)",
    "train(closest)",
    "train[:100%]",
    "train[:-100%]",
    "train[:101%]",
    "train[-101%:]",
    "train[:101]",
    "train+validation",
    "train+ validation",
    "train[:10%]+test[:20%](pct1_dropremainder)",
    "train[:10%](closest)+test[:20%](pct1_dropremainder)",
    "train[:10]+test[:20%](pct1_dropremainder)",
    "train[:10%](pct1_dropremainder)+test[:20]",
    "train[:abc]",
    "train[:1.5]",
    "tr-ain",
    "train[]",
    "train[5]",
    "train[:90]%",
    "+train",
    "train+",
    "trаin",
    "train\n",
    "é[:1]",
]


@pytest.mark.parametrize("spec", SPECS)
def test_the_syntax_check_gives_the_librarys_verdict(spec):
    """The check that spares a config's reader the `datasets` import accepts what
    `ReadInstruction.from_spec` accepts and refuses the rest with its words. Mutation: drop
    any one rule of `splits._parts` (the rounding rules, the percent bound, the sum's rounding)
    and a spec here gets the wrong verdict."""
    from datasets import ReadInstruction

    from lorasearch_tui.splits import _parts

    try:
        ReadInstruction.from_spec(spec)
        library = None
    except (ValueError, AssertionError) as exc:
        library = str(exc)
    try:
        _parts(spec)
        ours = None
    except ValueError as exc:
        ours = str(exc)
    assert (ours is None) == (library is None), (spec, ours, library)
    if library is not None and "invalid literal" not in library:
        assert ours == library


def test_reading_a_config_does_not_import_datasets(tmp_path):
    """`lorasearch` reads and checks a config, splits included, without importing `datasets` (the
    search's parent pays 1-2 s for it otherwise). Mutation: the library's `from_spec` back in
    `parse_split`."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lorasearch_tui.config import parse_config\n"
        "parse_config({'train_split': 'train[:80%]', 'val_split': 'train[80%:]'}, 'c.json')\n"
        "print('datasets' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("spec", [*SPECS, "train[-5:]+test[:50%]", "validation[33%:]+train[:-1]"])
def test_the_records_selected_are_the_librarys(spec):
    """Every valid spec selects the library's records, at sizes around its rounding edges.
    Mutation: round a percent bound down, or skip the `pct1_dropremainder` rounding or its
    refusal under 100 records, and a size here differs."""
    from datasets import ReadInstruction

    from lorasearch_tui.splits import Split, _compact

    for n in (0, 1, 3, 7, 10, 15, 99, 100, 101, 250, 1001):
        sizes = {"train": n, "validation": n // 2 + 1, "test": 5, "train.a": 4}
        try:
            parts = ReadInstruction.from_spec(_compact(spec)).to_absolute(sizes)
            library = [(p.splitname, range(sizes[p.splitname])[p.from_ : p.to]) for p in parts]
        except (ValueError, AssertionError) as exc:
            library = str(exc)
        try:
            ours = Split(spec, "head").select(sizes)
        except ValueError as exc:
            ours = str(exc)
        if isinstance(library, str) and "invalid literal" in library:
            assert isinstance(ours, str), (spec, n)
        else:
            assert ours == library, (spec, n)

"""Load a config's data: read, detect the kind, build examples, split, check the images.

All of it happens before any model is loaded, so a broken data file costs the user a second,
not the minutes a 12B model takes to load. Nothing heavy is imported here.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..config import TrainParams
from ..errors import UserError
from ..hub import is_hub_dataset_id
from ..locate import data_path
from ..splits import SplitSide, parse_split
from ._datasets import hub_splits, is_saved_dataset, saved_splits
from ._read import data_file, read_records
from ._records import Example, SkipRecord, detect_kind, to_example

_SHOW_MISSING = 3


@dataclass(frozen=True)
class LoadedData:
    """The examples of both splits and what was left out."""

    path: Path
    kind: str
    n_records: int
    train: list[Example]
    val: list[Example]
    # the held-out split, read only when asked (`with_test`): a search never asks
    test: list[Example] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    overlap: int = 0  # examples in both splits
    source: str = ""  # what input_data named: a path or a Hub id, for messages
    revision: str | None = None  # a Hub dataset's commit
    # The splits as the trainer takes them, built once and reused by every trial of a worker
    # (training._run): (model, max_seq_length) -> (train, val). Lives and dies with the data.
    prepared: dict[tuple[Any, ...], tuple[Any, Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_images(self) -> bool:
        """True when any example carries an image (the model must then be a VLM)."""
        return any(e.images for e in (*self.train, *self.val))


# every TrainParams field load_data reads: a worker keeps its data while these stay the same
DATA_KEYS = (
    "input_data",
    "data_config",
    "data_revision",
    "data_fields",
    "val_data",
    "instruction",
    "train_split",
    "val_split",
    "shuffle_before_split",
)


def data_key(params: TrainParams) -> tuple[Any, ...]:
    """What identifies the data `load_data(params)` gives (the seed only when it shuffles)."""
    values = tuple(json.dumps(getattr(params, k), sort_keys=True) for k in DATA_KEYS)
    return values + ((params.seed,) if params.shuffle_before_split else ())


@dataclass(frozen=True)
class _Source:
    """Where records come from: a name for messages and a records file per split."""

    label: str
    files: dict[str, Path]
    image_column: str | None = None  # with a text column, this one's images make OCR records
    dataset: bool = False  # a datasets dataset, with its own split names; else a file, one split


def _source(value: str, params: TrainParams, key: str) -> _Source:
    """The splits `input_data` (or `val_data`) names: a file or image folder is one split,
    `train`; a save_to_disk folder and a Hub dataset have their own."""
    if key == "input_data" and is_hub_dataset_id(value):
        return _Source(value, hub_splits(value, params.data_config, params.data_revision), "image", True)
    if is_hub_dataset_id(value):
        split = "test_split: test" if key == "test_data" else "val_split: validation"
        raise UserError(
            f"{key}: '{value}' is no local file; a Hub dataset's other split is named by "
            f"{split.split(':')[0]} ({split})"
        )
    path = data_path(value)
    if is_saved_dataset(path):
        return _Source(str(path), saved_splits(path), "image", True)
    file = data_file(path)
    # a Parquet file may hold datasets.Image cells, in an `image` column as datasets writes them
    return _Source(str(path), {"train": file}, "image" if file.suffix.lower() == ".parquet" else None)


def load_data(params: TrainParams, decode_images: bool = True, with_test: bool = False) -> LoadedData:
    """Read and check the data a config names; the splits index the usable records.

    Args:
        decode_images: decode every image in full (see `_check_images`).
        with_test: also select the held-out `test_split` (of `test_data`, else of
            `input_data`), refused when it shares a record with train or val. A search never
            passes it, so no trial, eval, statistic or sampler sees a test record; `validate`
            and `evaluate` do.

    Raises:
        UserError: one line naming the file and the record or split at fault.
    """
    source = _source(params.input_data, params, "input_data")
    val_source = source
    train_spec, val_spec = params.train_split, params.val_split
    if params.val_data is not None:
        val_source = _source(params.val_data, params, "val_data")
        # two sources: a split left at its default takes all of its own
        train_spec = _all_unless_set(train_spec, "train_split")
        val_spec = _all_unless_set(val_spec, "val_split")
    loaded: dict[tuple[str, str], tuple[list[Example], str, int, Counter[str]]] = {}

    def examples(src: _Source, name: str) -> list[Example]:
        if (src.label, name) not in loaded:
            label = f"{src.label} (split '{name}')" if src.dataset else str(src.files[name])
            found = _examples(src.files[name], params, src.image_column, decode_images, label)
            if params.shuffle_before_split:  # a file sorted by class or date: seeded, the same each time
                random.Random(params.seed).shuffle(found[0])
            loaded[src.label, name] = found
        return loaded[src.label, name][0]

    chosen = {}
    sources = {"train_split": source, "val_split": val_source}
    plan = [("train_split", train_spec, "head", source), ("val_split", val_spec, "tail", val_source)]
    test = held_out_plan(params) if with_test else None
    if test is not None:
        sources["test_split"] = source if test[0] is None else _source(test[0], params, "test_data")
        plan.append(("test_split", test[1], "tail", sources["test_split"]))
    for key, spec, side, src in plan:
        chosen[key] = _pick(key, spec, side, src, examples)
    if test is not None:
        _refuse_test_overlap(chosen, sources, params)
    kind_of = {(label, name): found[1] for (label, name), found in loaded.items()}
    train_kind = kind_of[source.label, chosen["train_split"][0][0]]
    for (label, name), kind in kind_of.items():
        if kind != train_kind:
            where = (
                f"split '{name}' of input_data"
                if label == source.label
                else ("val_data" if label == val_source.label else "test_data")
            )
            raise UserError(
                f"{where}: {label} holds {kind} records and input_data {train_kind} ones; "
                f"give both in one kind"
            )
    skipped: Counter[str] = Counter()
    for found in loaded.values():
        skipped.update(found[3])
    same = val_source is source
    overlap = len(set(chosen["train_split"]) & set(chosen["val_split"])) if same else 0
    train_file = source.files[chosen["train_split"][0][0]]
    return LoadedData(
        path=train_file,
        kind=train_kind,
        n_records=sum(found[2] for (label, _), found in loaded.items() if label == source.label),
        train=[loaded[source.label, n][0][i] for n, i in chosen["train_split"]],
        val=[loaded[val_source.label, n][0][i] for n, i in chosen["val_split"]],
        test=[loaded[sources["test_split"].label, n][0][i] for n, i in chosen["test_split"]]
        if test is not None
        else [],
        skipped=dict(skipped),
        overlap=overlap,
        source=source.label,
        revision=params.data_revision if source.dataset and is_hub_dataset_id(params.input_data) else None,
    )


def _pick(
    key: str, spec: str, side: SplitSide, src: _Source, examples: Callable[[_Source, str], list[Example]]
) -> list[tuple[str, int]]:
    """The records a split key selects of a source, as (split name, index) pairs.

    Raises:
        UserError: the split names no split of the source, cannot be cut, or selects nothing.
    """
    split = parse_split(spec, side)
    missing = [n for n in split.names if n not in src.files]
    if missing:
        have = (
            f"its splits are {', '.join(src.files)}" if src.dataset else "a data file is one split, 'train'"
        )
        raise UserError(f"{key}: '{spec}' names no split '{missing[0]}' of {src.label}; {have}")
    sizes = {n: len(examples(src, n)) for n in split.names}
    try:
        parts = split.select(sizes)
    except ValueError as exc:
        raise UserError(f"{key}: '{spec}': {exc}") from None
    picked = [(name, i) for name, idx in parts for i in idx]
    if not picked:
        raise UserError(
            f"{key}: '{spec}' selects no records out of {sum(sizes.values())} usable ones in "
            f"{src.label}; widen the split"
        )
    return picked


def held_out_plan(params: TrainParams) -> tuple[str | None, str] | None:
    """The held-out split a config names, as (test_data or None for input_data, split), or None.

    `test_data` alone takes all of that file; `test_split` alone is a split of `input_data` (a
    Hub dataset's own `test`, or a slice of a file, whose plain fraction is taken from the end).
    """
    if params.test_data is None and params.test_split is None:
        return None
    return params.test_data, params.test_split or "train"


def _refuse_test_overlap(
    chosen: dict[str, list[tuple[str, int]]], sources: dict[str, _Source], params: TrainParams
) -> None:
    """A test record that is also a train or val record makes the test score a flattering one.

    Only records of the same source can be told apart (the same file, the same split name and
    index); two different files with equal texts are the user's to know about.
    """
    test = set(chosen["test_split"])
    for key in ("train_split", "val_split"):
        if sources[key].label != sources["test_split"].label:
            continue
        shared = len(test & set(chosen[key]))
        if shared:
            raise UserError(
                f"test_split: '{params.test_split or 'train'}' shares {shared} records with {key} "
                f"'{getattr(params, key)}'; a test score is only honest on records never trained or "
                f"evaluated on: make the splits disjoint (train_split: train[:80%], val_split: "
                f"train[80%:90%], test_split: train[90%:])"
            )


def _all_unless_set(spec: str, key: str) -> str:
    return "train" if spec == TrainParams.model_fields[key].default else spec


def _examples(
    path: Path, params: TrainParams, image_column: str | None, decode_images: bool, label: str
) -> tuple[list[Example], str, int, Counter[str]]:
    """The usable examples of one records file (its images checked), its kind, its record count
    and what was skipped. `label` names it in messages: the file, or a data set and its split
    (whose records file is lorasearch's copy, which the user never wrote)."""
    records = read_records(path, params.data_fields, image_column)
    kind = detect_kind(label, records[0])
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for record in records:
        try:
            examples.append(to_example(kind, record, params.instruction, path.parent))
        except SkipRecord as why:
            skipped[str(why)] += 1
        except UserError as exc:
            raise UserError(f"{label}: {exc}") from None
    if not examples:
        raise UserError(
            f"{label}: all {len(records)} records were skipped ({_reasons(skipped)}); nothing to train on"
        )
    _check_images(path, examples, decode_images, label)
    return examples, kind, len(records), skipped


def _check_images(path: Path, examples: list[Example], decode: bool, label: str) -> None:
    """Every image file must exist and be a readable image.

    With `decode`, every image is decoded in full: a truncated file has a valid header and
    would otherwise fail in the middle of a trial. The search's parent and `validate` decode;
    the trial worker, which reads the same files after them, checks only that they open.
    """
    missing = [(e.index, p) for e in examples for p in e.images if not p.is_file()]
    if missing:
        first = ", ".join(f"{_rel(p, path.parent)} (record {i})" for i, p in missing[:_SHOW_MISSING])
        raise UserError(
            f"{label}: {len(missing)} image file{'s are' if len(missing) > 1 else ' is'} missing, "
            f"first: {first}; image paths are taken relative to {path.parent}"
        )
    broken = []
    for example in examples:
        for image in example.images:
            problem = _image_problem(image, decode)
            if problem is not None:
                broken.append((example.index, image, problem))
    if broken:
        first = ", ".join(
            f"{_rel(p, path.parent)} (record {i}: {why})" for i, p, why in broken[:_SHOW_MISSING]
        )
        raise UserError(
            f"{label}: {len(broken)} image file{'s' if len(broken) > 1 else ''} cannot be read, "
            f"first: {first}; replace or remove those records"
        )


def _image_problem(image: Path, decode: bool) -> str | None:
    """Why `image` cannot be used, or None when it can."""
    try:
        with Image.open(image) as img:
            if decode:
                img.load()
    except Image.DecompressionBombError:
        return f"more pixels than Pillow's safety limit of {Image.MAX_IMAGE_PIXELS:,}"
    except UnidentifiedImageError:
        return "not an image format Pillow reads"
    except (OSError, SyntaxError, ValueError) as exc:  # truncated data, a corrupt chunk
        return str(exc) or type(exc).__name__
    return None


def _rel(p: Path, base: Path) -> str:
    try:
        return str(p.relative_to(base))
    except ValueError:
        return str(p)


def _reasons(skipped: Counter[str]) -> str:
    return ", ".join(f"{n} with {why}" for why, n in skipped.items())

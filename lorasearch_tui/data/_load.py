"""Load a config's data: read, detect the kind, build examples, split, check the images.

All of it happens before any model is loaded, so a broken data file costs the user a second,
not the minutes a 12B model takes to load. Nothing heavy is imported here.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..config import TrainParams
from ..errors import UserError
from ..locate import data_path
from ..splits import parse_split
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
    skipped: dict[str, int] = field(default_factory=dict)
    overlap: int = 0  # examples in both splits
    # The splits as the trainer takes them, built once and reused by every trial of a worker
    # (training._run): (model, max_seq_length) -> (train, val). Lives and dies with the data.
    prepared: dict[tuple[Any, ...], tuple[Any, Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_images(self) -> bool:
        """True when any example carries an image (the model must then be a VLM)."""
        return any(e.images for e in (*self.train, *self.val))


def load_data(params: TrainParams, decode_images: bool = True) -> LoadedData:
    """Read and check the data a config names; the splits index the usable records.

    Args:
        decode_images: decode every image in full (see `_check_images`).

    Raises:
        UserError: one line naming the file and the record or split at fault.
    """
    path = data_file(data_path(params.input_data))
    examples, kind, n_records, skipped = _examples(path, params)
    _check_images(path, examples, decode_images)
    if params.shuffle_before_split:  # a file sorted by class or date: seeded, the same each time
        examples = list(examples)
        random.Random(params.seed).shuffle(examples)
    val_source, val_examples = path, examples
    train_spec, val_spec = params.train_split, params.val_split
    if params.val_data is not None:
        val_source = data_file(data_path(params.val_data))
        val_examples, val_kind, _, _ = _examples(val_source, params)
        _check_images(val_source, val_examples, decode_images)
        if val_kind != kind:
            raise UserError(
                f"val_data: {val_source} holds {val_kind} records and input_data {kind} ones; "
                f"give both in one kind"
            )
        # two files: a split left at its default takes all of its file
        train_spec = _all_unless_set(train_spec, "train_split")
        val_spec = _all_unless_set(val_spec, "val_split")

    train_idx = parse_split(train_spec, "head").indices(len(examples))
    val_idx = parse_split(val_spec, "tail").indices(len(val_examples))
    for name, spec, idx, source, total in (
        ("train_split", train_spec, train_idx, path, len(examples)),
        ("val_split", val_spec, val_idx, val_source, len(val_examples)),
    ):
        if len(idx) == 0:
            raise UserError(
                f"{name}: '{spec}' selects no records out of {total} usable ones in {source}; widen the split"
            )
    return LoadedData(
        path=path,
        kind=kind,
        n_records=n_records,
        train=[examples[i] for i in train_idx],
        val=[val_examples[i] for i in val_idx],
        skipped=dict(skipped),
        overlap=len(set(train_idx) & set(val_idx)) if params.val_data is None else 0,
    )


def _all_unless_set(spec: str, key: str) -> str:
    return "train[:100%]" if spec == TrainParams.model_fields[key].default else spec


def _examples(path: Path, params: TrainParams) -> tuple[list[Example], str, int, Counter[str]]:
    """The usable examples of one data file, its kind, its record count and what was skipped."""
    records = read_records(path, params.data_fields)
    kind = detect_kind(path, records[0])
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for record in records:
        try:
            examples.append(to_example(kind, record, params.instruction, path.parent))
        except SkipRecord as why:
            skipped[str(why)] += 1
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None
    if not examples:
        raise UserError(
            f"{path}: all {len(records)} records were skipped ({_reasons(skipped)}); nothing to train on"
        )
    return examples, kind, len(records), skipped


def _check_images(path: Path, examples: list[Example], decode: bool) -> None:
    """Every image file must exist and be a readable image.

    With `decode`, every image is decoded in full: a truncated file has a valid header and
    would otherwise fail in the middle of a trial. The search's parent and `validate` decode;
    the trial worker, which reads the same files after them, checks only that they open.
    """
    missing = [(e.index, p) for e in examples for p in e.images if not p.is_file()]
    if missing:
        first = ", ".join(f"{_rel(p, path.parent)} (record {i})" for i, p in missing[:_SHOW_MISSING])
        raise UserError(
            f"{path}: {len(missing)} image file{'s are' if len(missing) > 1 else ' is'} missing, "
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
            f"{path}: {len(broken)} image file{'s' if len(broken) > 1 else ''} cannot be read, "
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

"""Read a data file into raw records, telling exactly where it is broken.

A JSON file whose first character is `[` is one JSON array; anything else is JSON Lines (one
object per line, blank lines allowed). `.csv` is read with its header row as the keys, `.parquet`
with pyarrow (its columns as the keys), and a folder in Hugging Face's `imagefolder` layout
(`metadata.jsonl` or `metadata.csv` beside the images, a `file_name` column naming each image)
gives OCR records: `file_name` is the image, `text` (or `transcription`, `ocr_text`) its text.
Each record keeps its 1-based line number where the format has one, so later errors can point
at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..jsonfile import loads, read_text


@dataclass(frozen=True)
class RawRecord:
    """One record as read, with its position for error messages."""

    index: int
    line: int | None
    data: dict[str, Any]

    def where(self) -> str:
        """`record 7 (line 8)` or `record 7`."""
        return f"record {self.index}" + (f" (line {self.line})" if self.line else "")


IMAGEFOLDER_METADATA = ("metadata.jsonl", "metadata.csv")
IMAGEFOLDER_TEXT = ("text", "transcription", "ocr_text")  # the first one present is the answer


def data_file(path: Path) -> Path:
    """The file to read: `path` itself, or an image folder's metadata file."""
    if path.is_dir():
        for name in IMAGEFOLDER_METADATA:
            if (path / name).is_file():
                return path / name
        raise UserError(
            f"input_data: {path} is a folder without {' or '.join(IMAGEFOLDER_METADATA)}; give a data "
            f"file, or an image folder with a metadata file (file_name + text per image)"
        )
    return path


def read_records(
    path: Path, fields: dict[str, str] | None = None, image_column: str | None = None
) -> list[RawRecord]:
    """All records of a data file (JSON, JSON Lines, CSV, Parquet, an image folder's metadata),
    with the columns `fields` names renamed to lorasearch's keys.

    `image_column` names the column that, beside a text column, makes a record OCR when no key
    says otherwise: `file_name` in an image folder's metadata (found here), `image` in a
    `datasets` dataset (the name its image folders and most OCR sets use).

    Raises:
        UserError: missing or empty file, invalid JSON or CSV (with its line), a record that
            is not an object, a file with no records, a `data_fields` column no record has.
    """
    records = _read_any(path)
    if fields:  # first: the user's names win over an image folder's usual ones
        records = [_renamed(path, r, fields) for r in records]
    if image_column is None and path.name in IMAGEFOLDER_METADATA:
        image_column = "file_name"
    if image_column is not None:
        records = [_ocr_convention(r, image_column) for r in records]
    return records


# data_fields may name a record's role instead of lorasearch's key
FIELD_ROLES = {"image": "image_path", "text": "ocr_text"}


def _renamed(path: Path, record: RawRecord, fields: dict[str, str]) -> RawRecord:
    data = dict(record.data)
    for key, column in fields.items():
        if column not in data:
            raise UserError(
                f"{path}: {record.where()} has no column '{column}' (data_fields.{key}); "
                f"its columns are {sorted(record.data)}"
            )
        data[FIELD_ROLES.get(key, key)] = data.pop(column)
    return RawRecord(record.index, record.line, data)


def _ocr_convention(record: RawRecord, image_column: str) -> RawRecord:
    """An image and its text is an OCR record, whatever the columns are called."""
    data = dict(record.data)
    text = "ocr_text" if "ocr_text" in data else next((k for k in IMAGEFOLDER_TEXT if k in data), None)
    if image_column in data and text is not None and "image_path" not in data:
        data["image_path"] = data.pop(image_column)
        data["ocr_text"] = data.pop(text)
    return RawRecord(record.index, record.line, data)


def _read_any(path: Path) -> list[RawRecord]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    return _read_json(path)


def _read_csv(path: Path) -> list[RawRecord]:
    import csv
    import io

    text = read_text(path, "data file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise UserError(f"{path}: the CSV file has no header row; its first row must name the columns")
    records = []
    try:
        for row in reader:
            if None in row:  # more cells than the header names
                width = len(reader.fieldnames)
                raise UserError(f"{path}: line {reader.line_num} has more cells than the header's {width}")
            records.append(RawRecord(len(records), reader.line_num, {k: v for k, v in row.items()}))
    except csv.Error as exc:
        raise UserError(f"{path}: invalid CSV at line {reader.line_num}: {exc}") from None
    if not records:
        raise UserError(f"{path}: the file holds no records")
    return records


def _read_parquet(path: Path) -> list[RawRecord]:
    if not path.is_file():
        raise UserError(f"data file not found: {path}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path}: not a Parquet file pyarrow reads ({str(exc).splitlines()[0]})") from None
    rows = table.to_pylist()
    if not rows:
        raise UserError(f"{path}: the file holds no records")
    images = [f.name for f in table.schema if _is_image_type(f.type)]
    if images:  # datasets.Image cells ({bytes, path}) become files, as a Hub dataset's do
        from ._datasets import parquet_images

        rows = parquet_images(path, rows, images)
    return [RawRecord(i, None, row) for i, row in enumerate(rows)]


def _is_image_type(kind: Any) -> bool:
    """A datasets.Image column as Parquet stores it: struct<bytes, path>, or a list of them."""
    import pyarrow as pa

    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return pa.types.is_struct(kind) and {kind.field(i).name for i in range(kind.num_fields)} == {
        "bytes",
        "path",
    }


def _read_json(path: Path) -> list[RawRecord]:
    text = read_text(path, "data file")
    if not text.strip():
        raise UserError(f"{path}: the file is empty; it must hold a JSON array or JSON Lines records")
    if text.lstrip().startswith("["):
        records = _read_array(path, text)
    else:
        records = _read_lines(path, text)
    if not records:
        raise UserError(f"{path}: the file holds no records")
    return records


def _read_array(path: Path, text: str) -> list[RawRecord]:
    items = loads(text, path)
    records = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserError(f"{path}: record {i} is {type(item).__name__}, not a JSON object")
        records.append(RawRecord(i, None, item))
    return records


def _read_lines(path: Path, text: str) -> list[RawRecord]:
    records = []
    # Only "\n" ends a JSON Lines record: `str.splitlines` would also split inside strings at
    # U+2028, U+0085 and other characters that JSON allows there unescaped.
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            item = loads(line, path, first_line=lineno)
        except UserError:
            if lineno == 1 and _is_single_object(text):
                raise UserError(
                    f"{path}: the file is one JSON object; write a JSON array of records "
                    f"or one record per line (JSON Lines)"
                ) from None
            raise
        if not isinstance(item, dict):
            raise UserError(f"{path}: line {lineno} is {type(item).__name__}, not a JSON object")
        records.append(RawRecord(len(records), lineno, item))
    return records


def _is_single_object(text: str) -> bool:
    try:
        return isinstance(loads(text, Path("-")), dict)
    except UserError:
        return False

"""Data where users keep it: the demo's OCR records as CSV, Parquet, Parquet with datasets.Image
cells, a save_to_disk folder (its own train/test splits), an image folder with a metadata file,
and JSON Lines with other column names (data_fields); each loads to the same examples as the
JSON Lines file and trains; a broken one is one line with its place."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import FAST

from lorasearch_tui.config import TrainParams
from lorasearch_tui.data import load_data
from lorasearch_tui.errors import UserError
from lorasearch_tui.training import train_job


@pytest.fixture
def demo_rows(demo_data, tmp_path):
    """The demo's records, and its images copied beside the files made from them."""
    shutil.copytree(demo_data.parent / "images", tmp_path / "images")
    return [json.loads(line) for line in demo_data.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sources(rows, tmp_path):
    with (tmp_path / "data.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["image_path", "ocr_text"])
        writer.writeheader()
        writer.writerows(rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data.parquet")
    folder = tmp_path / "images"
    with (folder / "metadata.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["file_name", "text"])
        writer.writeheader()
        writer.writerows(
            {"file_name": r["image_path"].removeprefix("images/"), "text": r["ocr_text"]} for r in rows
        )
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(
        "".join(json.dumps({"img": r["image_path"], "transcription": r["ocr_text"]}) + "\n" for r in rows),
        encoding="utf-8",
    )
    import datasets

    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    embedded = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": (tmp_path / r["image_path"]).read_bytes(), "path": None} for r in rows],
            "text": [r["ocr_text"] for r in rows],
        },
        features=features,
    )
    cut = round(len(rows) * 0.9)
    splits = {"train": embedded.select(range(cut)), "test": embedded.select(range(cut, len(rows)))}
    datasets.DatasetDict(splits).save_to_disk(str(tmp_path / "saved"))
    embedded.to_parquet(str(tmp_path / "images.parquet"))
    return {
        "save_to_disk": {"input_data": str(tmp_path / "saved"), "train_split": "train", "val_split": "test"},
        "parquet_images": {"input_data": str(tmp_path / "images.parquet")},
        "csv": {"input_data": str(tmp_path / "data.csv")},
        "parquet": {"input_data": str(tmp_path / "data.parquet")},
        "imagefolder": {"input_data": str(folder)},
        "data_fields": {"input_data": str(renamed), "data_fields": {"image": "img", "text": "transcription"}},
    }


def test_every_source_gives_the_examples_the_json_lines_file_gives(demo_data, demo_rows, tmp_path):
    reference = load_data(TrainParams(input_data=str(demo_data)), decode_images=False)
    for name, fixed in _sources(demo_rows, tmp_path).items():
        loaded = load_data(TrainParams(**fixed), decode_images=False)
        assert loaded.kind == "ocr", name
        assert [e.completion for e in loaded.train] == [e.completion for e in reference.train], name
        # the same image bytes, whether the file is the user's or written from a datasets.Image cell
        assert [e.images[0].read_bytes() for e in loaded.val] == [
            e.images[0].read_bytes() for e in reference.val
        ], name


@pytest.mark.slow
def test_every_source_trains(demo_rows, tmp_path):
    for name, fixed in _sources(demo_rows, tmp_path).items():
        result = train_job(TrainParams(**FAST, **fixed, max_steps=2), tmp_path / "out" / name)
        assert result.eval_loss is not None and result.steps == 2, name


def test_broken_sources_are_one_line_with_their_place(demo_rows, tmp_path):
    def refused(fixed):
        with pytest.raises(UserError) as caught:
            load_data(TrainParams(**fixed), decode_images=False)
        return str(caught.value)

    bad = tmp_path / "bad.csv"
    bad.write_text("image_path,ocr_text\nimages/a.png,hello,extra\n", encoding="utf-8")
    assert refused({"input_data": str(bad)}).endswith("bad.csv: line 2 has more cells than the header's 2")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    assert "broken.parquet: not a Parquet file pyarrow reads" in refused(
        {"input_data": str(tmp_path / "broken.parquet")}
    )
    (tmp_path / "empty_folder").mkdir()
    assert "is a folder without metadata.jsonl or metadata.csv" in refused(
        {"input_data": str(tmp_path / "empty_folder")}
    )
    sources = _sources(demo_rows, tmp_path)
    wrong = {**sources["data_fields"], "data_fields": {"image": "picture"}}
    assert "record 0 (line 1) has no column 'picture' (data_fields.image)" in refused(wrong)


def test_a_separate_val_file_and_a_seeded_shuffle(demo_data, demo_rows, tmp_path):
    from conftest import write_jsonl

    train_file = write_jsonl(tmp_path / "train.jsonl", demo_rows[:40])
    val_file = write_jsonl(tmp_path / "val.jsonl", demo_rows[40:50])
    both = load_data(TrainParams(input_data=str(train_file), val_data=str(val_file)), decode_images=False)
    assert (len(both.train), len(both.val), both.overlap) == (40, 10, 0)  # the defaults take all of each
    assert [e.completion for e in both.val] == [
        e.completion for e in load_data(TrainParams(input_data=str(val_file), val_split="train[:100%]")).val
    ]
    some = load_data(
        TrainParams(input_data=str(train_file), val_data=str(val_file), val_split="train[5:]"),
        decode_images=False,
    )
    assert len(some.train) == 40 and len(some.val) == 5  # a split you set applies to its own file

    plain = load_data(TrainParams(input_data=str(demo_data)), decode_images=False)
    shuffled = load_data(
        TrainParams(input_data=str(demo_data), shuffle_before_split=True), decode_images=False
    )
    again = load_data(TrainParams(input_data=str(demo_data), shuffle_before_split=True), decode_images=False)
    other = load_data(
        TrainParams(input_data=str(demo_data), shuffle_before_split=True, seed=1), decode_images=False
    )
    order = [e.index for e in shuffled.train + shuffled.val]
    assert order == [e.index for e in again.train + again.val]  # seeded: the same every time
    assert order != [e.index for e in plain.train + plain.val]
    assert order != [e.index for e in other.train + other.val]
    assert sorted(order) == sorted(e.index for e in plain.train + plain.val) and shuffled.overlap == 0

    text = write_jsonl(tmp_path / "text.jsonl", [{"prompt": "q", "completion": "a"}] * 5)
    with pytest.raises(
        UserError, match="val_data: .* holds prompt_completion records and input_data ocr ones"
    ):
        load_data(TrainParams(input_data=str(train_file), val_data=str(text)), decode_images=False)


def test_image_cells_with_only_a_path_are_copied_and_rows_without_an_image_skipped(demo_rows, tmp_path):
    """datasets keeps the path, not the bytes, of an image it did not embed (its Arrow cache of
    a Hub image folder does): lorasearch copies that file, so its copy depends on nothing else;
    a relative path is taken beside the Parquet file; a row with no image is skipped and
    counted; a path that is no file here is one line naming the row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def cell(path):
        return None if path is None else {"bytes": None, "path": path}

    paths = [r["image_path"] for r in demo_rows]  # relative: images/line_0000.png
    paths[0] = str(tmp_path / paths[0])  # absolute
    paths[3] = None
    rows = [{"image": cell(p), "text": r["ocr_text"]} for p, r in zip(paths, demo_rows, strict=True)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "by-path.parquet")
    loaded = load_data(TrainParams(input_data=str(tmp_path / "by-path.parquet")), decode_images=False)
    assert loaded.skipped == {"no image": 1}
    for example, row in zip(loaded.train[:3], demo_rows[:3], strict=True):
        copy, original = example.images[0], tmp_path / row["image_path"]
        assert copy != original and copy.read_bytes() == original.read_bytes()

    pq.write_table(
        pa.Table.from_pylist([{"image": cell("nowhere.png"), "text": "a"}]), tmp_path / "x.parquet"
    )
    with pytest.raises(UserError) as caught:
        load_data(TrainParams(input_data=str(tmp_path / "x.parquet")))
    assert "x.parquet: row 0: column 'image' names the image" in str(caught.value)
    assert "nowhere.png', which holds no bytes and is no file here" in str(caught.value)


def test_a_copy_a_killed_process_left_half_written_is_removed(demo_rows, tmp_path):
    import subprocess

    import datasets

    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    rows = demo_rows[:8]
    saved = datasets.Dataset.from_dict(
        {"image": [str(tmp_path / r["image_path"]) for r in rows], "text": [r["ocr_text"] for r in rows]},
        features=features,
    )
    saved.save_to_disk(str(tmp_path / "saved"))
    params = TrainParams(input_data=str(tmp_path / "saved"), train_split="train[:6]", val_split="train[6:]")
    copy = load_data(params, decode_images=False).path.parent
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has now: the killed copier's
    abandoned = copy.with_name(f".{copy.name}.{gone.pid}.tmp")
    (abandoned / "images").mkdir(parents=True)
    shutil.rmtree(copy)
    assert load_data(params, decode_images=False).path.parent == copy and copy.is_dir()
    assert not abandoned.exists()

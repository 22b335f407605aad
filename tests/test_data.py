"""Record kinds, image paths, skipped records and every data error, each with its one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_json, write_jsonl
from PIL import Image

from lorasearch_tui.config import TrainParams
from lorasearch_tui.data import length_stats, load_data
from lorasearch_tui.demo._model import TOKENS_PER_IMAGE
from lorasearch_tui.errors import UserError


def png(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 16), "white").save(path)
    return path.name


def params(data: Path, **kw) -> TrainParams:
    return TrainParams(input_data=str(data), train_split="train[:50%]", val_split="train[50%:]", **kw)


def test_ocr_records_resolve_images_next_to_the_data_file_and_skip_empty_text(tmp_path):
    for i in range(4):
        png(tmp_path / "imgs" / f"{i}.png")
    rows = [{"image_path": f"imgs/{i}.png", "ocr_text": f"line {i}"} for i in range(4)]
    rows.insert(2, {"image_path": "imgs/0.png", "ocr_text": "  "})
    rows.insert(3, {"image_path": "imgs/1.png", "ocr_text": None})
    data = load_data(params(write_jsonl(tmp_path / "d.jsonl", rows), instruction="Read it"))
    assert data.kind == "ocr" and data.n_records == 6
    assert data.skipped == {"empty answer": 2}
    assert [len(data.train), len(data.val)] == [2, 2]
    first = data.train[0]
    assert first.images == (tmp_path / "imgs" / "0.png",)
    assert first.prompt == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Read it"}]}
    ]
    assert first.completion == [{"role": "assistant", "content": [{"type": "text", "text": "line 0"}]}]


@pytest.mark.parametrize(
    ("results", "text"),
    [
        ("one line", "one line"),
        (["a", "b"], "a\nb"),
        ([{"text": "a", "box": [0, 0, 1, 1]}, {"transcription": "b"}], "a\nb"),
    ],
)
def test_raw_ocr_records(tmp_path, results, text):
    png(tmp_path / "x.png")
    rows = [{"img_path": "x.png", "ocr_results": results}] * 2
    data = load_data(params(write_json(tmp_path / "d.json", rows)))
    assert data.kind == "ocr_raw"
    assert data.train[0].answer_text() == text


def test_chat_records_train_the_last_assistant_turn(tmp_path):
    png(tmp_path / "a.png")
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
                {"role": "assistant", "content": "A cat."},
            ],
            "images": ["a.png"],
        },
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
            ]
        },
    ]
    data = load_data(params(write_jsonl(tmp_path / "d.jsonl", rows)))
    assert data.kind == "chat"
    with_image, text_only = data.train[0], data.val[0]
    assert [m["role"] for m in with_image.prompt] == ["system", "user"]
    assert with_image.completion[0]["content"] == [{"type": "text", "text": "A cat."}]
    assert with_image.images == (tmp_path / "a.png",)
    assert text_only.images == () and text_only.answer_text() == "Hello"


def test_chat_images_without_image_parts_go_to_the_first_user_turn(tmp_path):
    png(tmp_path / "a.png")
    rows = [
        {
            "messages": [{"role": "user", "content": "Read"}, {"role": "assistant", "content": "x"}],
            "images": ["a.png"],
        }
    ] * 2
    data = load_data(params(write_jsonl(tmp_path / "d.jsonl", rows)))
    assert data.train[0].prompt[0]["content"][0] == {"type": "image"}


def test_instruction_records(tmp_path):
    rows = [
        {"instruction": "Translate", "input": "chat", "output": "cat"},
        {"instruction": "Say hi", "output": "hi"},
    ]
    data = load_data(params(write_json(tmp_path / "d.json", rows)))
    assert data.kind == "instruction"
    assert data.train[0].prompt_text() == "Translate\n\nchat"
    assert data.val[0].prompt_text() == "Say hi"
    assert not data.has_images


def test_prompt_completion_records_text_and_conversational(tmp_path):
    rows = [
        {"prompt": "2+2=", "completion": "4"},
        {
            "prompt": [{"role": "user", "content": "3+3="}],
            "completion": [{"role": "assistant", "content": "6"}],
        },
    ]
    data = load_data(params(write_jsonl(tmp_path / "d.jsonl", rows)))
    assert data.kind == "prompt_completion"
    assert data.train[0].prompt == [{"role": "user", "content": [{"type": "text", "text": "2+2="}]}]
    assert data.val[0].answer_text() == "6"


def test_splits_index_usable_records_and_overlap_is_counted(tmp_path):
    rows = [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(10)]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    data = load_data(TrainParams(input_data=str(path), train_split="train[:8]", val_split="train[6:]"))
    assert [e.index for e in data.val] == [6, 7, 8, 9]
    assert data.overlap == 2
    frac = load_data(TrainParams(input_data=str(path), train_split="0.7", val_split="0.3"))
    assert (len(frac.train), len(frac.val), frac.overlap) == (7, 3, 0)


DATA_ERRORS = [
    ("empty.jsonl", "", "the file is empty"),
    ("blank.json", "  \n\n", "the file is empty"),
    (
        "array.json",
        '[{"instruction": "a", "output": "b"},\n {"instruction": "c" "output": "d"}]',
        "invalid JSON at line 2, column 22: Expecting ',' delimiter",
    ),
    (
        "lines.jsonl",
        '{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": }\n',
        "invalid JSON at line 2, column 32",
    ),
    ("none.json", "[]", "the file holds no records"),
    ("object.json", '{\n "instruction": "a",\n "output": "b"\n}', "the file is one JSON object"),
    ("scalar.jsonl", '{"instruction": "a", "output": "b"}\n[1, 2]\n', "line 2 is list, not a JSON object"),
    (
        "kind.jsonl",
        '{"question": "a", "answer": "b"}\n',
        "record 0 (line 1) has keys ['answer', 'question'], which fit no record kind",
    ),
    (
        "field.jsonl",
        '{"instruction": "a", "output": "b"}\n\n{"instruction": "c"}\n',
        "record 1 (line 3) has no 'output'",
    ),
    ("type.json", '[{"instruction": "a", "output": 5}]', "record 0: 'output' must be text, not int"),
    (
        "role.jsonl",
        '{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}\n',
        "record 0 (line 1): the last message must be the assistant's answer, not 'user'",
    ),
    (
        "parts.jsonl",
        '{"messages": [{"role": "user", "content": [{"type": "video"}]}, '
        '{"role": "assistant", "content": "b"}]}\n',
        "record 0 (line 1): messages[0]: each content part must be",
    ),
    (
        "allempty.jsonl",
        '{"instruction": "a", "output": ""}\n',
        "all 1 records were skipped (1 with empty answer)",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), DATA_ERRORS, ids=[d[0] for d in DATA_ERRORS])
def test_data_errors_are_one_line_naming_file_and_record(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_data(params(path))
    text = str(caught.value)
    assert message in text and str(path) in text
    assert "\n" not in text


def test_missing_data_file(tmp_path):
    with pytest.raises(UserError, match="data file not found"):
        load_data(params(tmp_path / "nope.jsonl"))


def test_missing_images_are_counted_with_the_first_paths(tmp_path):
    png(tmp_path / "ok.png")
    rows = [{"image_path": "ok.png", "ocr_text": "x"}] + [
        {"image_path": f"gone/{i}.png", "ocr_text": "x"} for i in range(5)
    ]
    with pytest.raises(UserError) as caught:
        load_data(params(write_jsonl(tmp_path / "d.jsonl", rows)))
    text = str(caught.value)
    assert (
        "5 image files are missing, first: gone/0.png (record 1), gone/1.png (record 2), "
        "gone/2.png (record 3);" in text
    )
    assert "gone/3.png" not in text
    assert f"relative to {tmp_path}" in text


def test_unreadable_image(tmp_path):
    (tmp_path / "bad.png").write_text("not a png")
    rows = [{"image_path": "bad.png", "ocr_text": "x"}] * 2
    expected = r"2 image files cannot be read, first: bad.png \(record 0: not an image format"
    with pytest.raises(UserError, match=expected):
        load_data(params(write_jsonl(tmp_path / "d.jsonl", rows)))


def test_empty_split_names_the_split(tmp_path):
    rows = [{"instruction": "q", "output": "a"}] * 3
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(UserError, match=r"val_split: 'train\[3:\]' selects no records out of 3 usable ones"):
        load_data(TrainParams(input_data=str(path), train_split="train[:3]", val_split="train[3:]"))


def test_length_stats_count_tokens_and_image_tokens(demo_model, demo_data):
    data = load_data(TrainParams(input_data=str(demo_data)))
    stats = length_stats(data.train, demo_model, max_seq_length=20)
    assert stats.unit == "tokens" and stats.image_tokens_per_image == TOKENS_PER_IMAGE == 36
    assert stats.prompt.min > TOKENS_PER_IMAGE
    assert stats.over_limit == sum(1 for _ in data.train)  # every example is over 20 tokens
    chars = length_stats(data.train, None, max_seq_length=20)
    assert chars.unit == "characters" and chars.over_limit == 0

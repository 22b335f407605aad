"""Record kinds and how each becomes a prompt/completion example.

Every kind is turned into TRL's conversational prompt/completion form, because only that form
makes TRL mask the prompt, image tokens included, and train on the answer alone (a plain
`messages` record leaves every token in the loss; `tests/test_training.py` checks the labels
of a real batch). A chat record's last
turn, which must be the assistant's, is its completion; the turns before it are the prompt.

The kind is detected once per file, from its first record; every record must then fit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ._read import RawRecord

KINDS = {
    "ocr": ("image_path", "ocr_text"),
    "ocr_raw": ("img_path", "ocr_results"),
    "chat": ("messages",),
    "instruction": ("instruction", "output"),
    "prompt_completion": ("prompt", "completion"),
}
KIND_LABELS = {
    "ocr": "OCR (image_path + ocr_text)",
    "ocr_raw": "OCR raw (img_path + ocr_results)",
    "chat": "chat (messages)",
    "instruction": "instruction (instruction / input / output)",
    "prompt_completion": "prompt-completion (prompt / completion)",
}


class SkipRecord(Exception):
    """A record that is well-formed but has nothing to train on (an empty answer)."""


@dataclass(frozen=True)
class Example:
    """One training example in conversational prompt/completion form."""

    index: int
    prompt: list[dict[str, Any]]
    completion: list[dict[str, Any]]
    images: tuple[Path, ...] = ()

    def prompt_text(self) -> str:
        """The prompt's text parts joined, for length statistics."""
        return "\n".join(_texts(self.prompt))

    def answer_text(self) -> str:
        """The completion's text, for length statistics."""
        return "\n".join(_texts(self.completion))

    def to_row(self) -> dict[str, Any]:
        """The row given to `datasets`; image paths stay paths until a batch decodes them."""
        row: dict[str, Any] = {"prompt": self.prompt, "completion": self.completion}
        if self.images:
            row["images"] = [str(p) for p in self.images]
        return row


def detect_kind(where: str, first: RawRecord) -> str:
    """The record kind of a file (named `where` in the message), from its first record's keys."""
    for kind, keys in KINDS.items():
        if all(k in first.data for k in keys):
            return kind
    expected = "; ".join(KIND_LABELS.values())
    raise UserError(
        f"{where}: {first.where()} has keys {sorted(first.data)}, which fit no record kind; "
        f"expected one of: {expected}"
    )


def to_example(kind: str, record: RawRecord, instruction: str, base: Path) -> Example:
    """Turn one raw record of `kind` into an example; image paths resolve against `base`.

    Raises:
        UserError: the record lacks a field of its kind or a field has the wrong type.
        SkipRecord: the record's answer is empty.
    """
    data = record.data
    for key in KINDS[kind]:
        if key not in data:
            raise UserError(
                f"{record.where()} has no '{key}' (every record of this file is {KIND_LABELS[kind]})"
            )
    if kind in ("ocr", "ocr_raw"):
        image_key, text_key = KINDS[kind]
        image = _string(record, image_key)
        text = _string(record, text_key) if kind == "ocr" else _ocr_results_text(record)
        _require_answer(text)
        if not image.strip():  # a data set's row without its image
            raise SkipRecord("no image")
        return Example(
            record.index,
            prompt=[_user([{"type": "image"}, {"type": "text", "text": instruction}])],
            completion=[_assistant(text)],
            images=(_resolve(base, image),),
        )
    if kind == "instruction":
        question = _string(record, "instruction")
        extra = data.get("input") or ""
        if not isinstance(extra, str):
            raise UserError(f"{record.where()}: 'input' must be text")
        answer = _string(record, "output")
        _require_answer(answer)
        prompt_text = f"{question}\n\n{extra}" if extra.strip() else question
        return Example(record.index, [_user([{"type": "text", "text": prompt_text}])], [_assistant(answer)])
    images = tuple(_resolve(base, p) for p in _image_list(record))
    if kind == "chat":
        messages = _messages(record, "messages")
        if messages[-1]["role"] != "assistant":
            raise UserError(
                f"{record.where()}: the last message must be the assistant's answer, "
                f"not '{messages[-1]['role']}'"
            )
        if len(messages) < 2:
            raise UserError(f"{record.where()}: 'messages' needs a prompt turn before the assistant's answer")
        prompt, completion = messages[:-1], messages[-1:]
    else:
        prompt = _turns(record, "prompt", "user")
        completion = _turns(record, "completion", "assistant")
    _require_answer("\n".join(_texts(completion)))
    _check_image_parts(record, prompt, images)
    return Example(record.index, prompt, completion, images)


def _user(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "user", "content": content}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def _require_answer(text: str) -> None:
    if not text.strip():
        raise SkipRecord("empty answer")


def _string(record: RawRecord, key: str) -> str:
    value = record.data[key]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserError(f"{record.where()}: '{key}' must be text, not {type(value).__name__}")
    return value


def _ocr_results_text(record: RawRecord) -> str:
    """`ocr_results` as text: a string, a list of strings, or OCR boxes with `text`/`transcription`."""
    value = record.data["ocr_results"]
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, str):
                lines.append(item)
            elif isinstance(item, dict) and isinstance(item.get("text", item.get("transcription")), str):
                lines.append(item.get("text", item.get("transcription")))
            else:
                raise UserError(
                    f"{record.where()}: each item of 'ocr_results' must be text or an object with 'text'"
                )
        return "\n".join(lines)
    raise UserError(f"{record.where()}: 'ocr_results' must be text or a list of lines")


def _image_list(record: RawRecord) -> list[str]:
    value = record.data.get("images", record.data.get("image"))
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UserError(f"{record.where()}: 'images' must be a list of image file paths")
    return value


def _messages(record: RawRecord, key: str) -> list[dict[str, Any]]:
    value = record.data[key]
    if not isinstance(value, list) or not value:
        raise UserError(f"{record.where()}: '{key}' must be a non-empty list of messages")
    out = []
    for i, message in enumerate(value):
        where = f"{record.where()}: {key}[{i}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise UserError(f"{where} must be an object with 'role' and 'content'")
        out.append({"role": message["role"], "content": _content(where, message.get("content"))})
    return out


def _turns(record: RawRecord, key: str, role: str) -> list[dict[str, Any]]:
    """A prompt or completion: text becomes one turn of `role`, a list is taken as messages."""
    value = record.data[key]
    if isinstance(value, str):
        return [{"role": role, "content": [{"type": "text", "text": value}]}]
    return _messages(record, key)


def _content(where: str, content: Any) -> list[dict[str, Any]]:
    """Message content as typed parts; plain text becomes one text part."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise UserError(f"{where}: 'content' must be text or a list of parts")
    parts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif isinstance(part, dict) and part.get("type") == "image":
            parts.append({"type": "image"})
        else:
            raise UserError(
                f"{where}: each content part must be {{'type': 'text', 'text': ...}} or {{'type': 'image'}}"
            )
    return parts


def _check_image_parts(record: RawRecord, prompt: list[dict[str, Any]], images: tuple[Path, ...]) -> None:
    """Image parts and image files must pair up; with no parts, images go before the first text."""
    parts = sum(1 for m in prompt for p in m["content"] if p["type"] == "image")
    if parts == 0 and images:
        first_user = next((m for m in prompt if m["role"] == "user"), None)
        if first_user is None:
            raise UserError(f"{record.where()}: has images but no user turn to put them in")
        first_user["content"][:0] = [{"type": "image"} for _ in images]
    elif parts != len(images):
        raise UserError(
            f"{record.where()}: {parts} image parts in the messages but {len(images)} image files"
        )


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [p["text"] for m in messages for p in m["content"] if p["type"] == "text"]


def _resolve(base: Path, image: str) -> Path:
    path = Path(image).expanduser()
    return path if path.is_absolute() else base / path

"""Make the demo's synthetic OCR data set: rendered text lines and their text.

The records use the reference project's OCR format (`image_path` + `ocr_text`, image paths
relative to the data file), so the demo walks exactly the path a user's data walks.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_WORDS = (
    "invoice receipt total amount date order customer item price tax paid due "
    "account number address street city phone email bank transfer balance "
    "shipping delivery quantity unit discount subtotal reference payment"
).split()
_NAMES = "Chen Lin Wang Huang Tsai Liu Yang Wu Lee Chang Smith Garcia Muller Sato".split()


def _line(rng: random.Random) -> str:
    """One short line of receipt-like text: a few words, a name or numbers."""
    shape = rng.randrange(4)
    if shape == 0:
        return f"{rng.choice(_WORDS).title()}: {rng.randrange(1, 999)}.{rng.randrange(100):02d}"
    if shape == 1:
        return f"{rng.randrange(2019, 2027)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if shape == 2:
        return f"{rng.choice(_NAMES)} {rng.choice(_NAMES)} #{rng.randrange(1000, 9999)}"
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(2, 5)))


def render_line(text: str, font: ImageFont.ImageFont) -> Image.Image:
    """Black text on a white strip, padded, as a scanner would give a cropped line."""
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 16, bottom - top + 12), "white")
    ImageDraw.Draw(image).text((8 - left, 6 - top), text, fill="black", font=font)
    return image


def write_ocr_dataset(folder: Path, n_records: int = 300, seed: int = 0) -> Path:
    """Write `n_records` PNGs under `folder/images` and `folder/data.jsonl`; return the latter.

    Returns:
        The path of the JSON Lines file.
    """
    rng = random.Random(seed)
    font = ImageFont.load_default(size=18)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_records):
        text = _line(rng)
        name = f"images/line_{i:04d}.png"
        render_line(text, font).save(folder / name)
        rows.append({"image_path": name, "ocr_text": text})
    data_file = folder / "data.jsonl"
    with data_file.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return data_file


def corpus_texts(n_records: int = 300, seed: int = 0) -> list[str]:
    """The texts the demo's tokenizer should know: the same lines, regenerated from the seed."""
    rng = random.Random(seed)
    return [_line(rng) for _ in range(n_records)]

"""Make the demo's synthetic OCR data set: rendered text lines and their text.

The records use the reference project's OCR format (`image_path` + `ocr_text`, image paths
relative to the data file), so the demo walks exactly the path a user's data walks.

A line is drawn one character per 8-pixel cell on a 6 x 6 grid (48 x 48 pixels), left to
right and wrapping, so that each of the tiny model's 36 image tokens sees one character: a
model that small can learn to read that in a minute of pre-training on two cores, where a
wide strip squeezed into its few image tokens stayed unreadable (every CER was 1.0).
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


CELL = 8  # pixels per character cell, the vision tower's patch size
GRID = 6  # cells per side
IMAGE_SIZE = CELL * GRID


def _line(rng: random.Random) -> str:
    """One short line of receipt-like text that fits the grid."""
    while True:
        text = _any_line(rng)
        if len(text) <= GRID * GRID:
            return text


def _any_line(rng: random.Random) -> str:
    """A few words, a name or numbers, as on a receipt."""
    shape = rng.randrange(4)
    if shape == 0:
        return f"{rng.choice(_WORDS).title()}: {rng.randrange(1, 999)}.{rng.randrange(100):02d}"
    if shape == 1:
        return f"{rng.randrange(2019, 2027)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if shape == 2:
        return f"{rng.choice(_NAMES)} {rng.choice(_NAMES)} #{rng.randrange(1000, 9999)}"
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(2, 5)))


def demo_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at a size that fills a cell."""
    return ImageFont.load_default(size=10)


def render_line(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> Image.Image:
    """Black characters on white, one per grid cell, centred, wrapping at the grid's width."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), "white")
    draw = ImageDraw.Draw(image)
    for i, char in enumerate(text[: GRID * GRID]):
        row, col = divmod(i, GRID)
        draw.text((col * CELL + CELL / 2, row * CELL + CELL / 2), char, fill="black", font=font, anchor="mm")
    return image


def write_ocr_dataset(folder: Path, n_records: int = 300, seed: int = 0) -> Path:
    """Write `n_records` PNGs under `folder/images` and `folder/data.jsonl`; return the latter.

    Returns:
        The path of the JSON Lines file.
    """
    rng = random.Random(seed)
    font = demo_font()
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

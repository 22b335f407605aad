"""`lorasearch export`: one row per trial, as CSV or JSON, for a spreadsheet or a script."""

from __future__ import annotations

import csv
import io
import json

from ..results import TrialRow


def export_text(rows: list[TrialRow], names: list[str], fmt: str, objectives: tuple[str, ...] = ()) -> str:
    flat = [row.flat(names, objectives) for row in rows]
    if fmt == "json":
        return json.dumps(flat, indent=2, allow_nan=False) + "\n"
    out = io.StringIO()
    columns = list(flat[0]) if flat else ["number", "state", "value", *[f"param_{n}" for n in names]]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()

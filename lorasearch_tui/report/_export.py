"""`lorasearch export`: one row per trial, as CSV or JSON, for a spreadsheet or a script."""

from __future__ import annotations

import csv
import io
import json

from ..results import StudyLook, flat


def export_text(looked: StudyLook, fmt: str) -> str:
    """Every trial's outcome, its params as `param_NAME` columns (see `results.flat`)."""
    names = looked.names
    rows = [flat(row, names, looked.summary.objectives, looked.pareto) for row in looked.rows]
    if fmt == "json":
        return json.dumps(rows, indent=2, allow_nan=False) + "\n"
    out = io.StringIO()
    columns = list(rows[0]) if rows else ["number", "state", "value", *[f"param_{n}" for n in names]]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()

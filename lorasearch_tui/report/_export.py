"""`lorasearch export`: one row per trial, as CSV or JSON, for a spreadsheet or a script."""

from __future__ import annotations

import csv
import io
import json

from ..events import evaluated_cer
from ..results import StudyLook, flat


def export_text(looked: StudyLook, fmt: str) -> str:
    """Every trial's outcome, its params as `param_NAME` columns (see `results.flat`), and the
    CER `lorasearch evaluate` measured on each split (`test_cer`, `test_cer_low`, `test_cer_high`)."""
    names = looked.names
    rows = [flat(row, names, looked.summary.objectives, looked.pareto) for row in looked.rows]
    for split in sorted(looked.evaluation):  # `lorasearch evaluate`'s CER, where it ran
        scored = evaluated_cer(looked.evaluation, split)
        for row in rows:
            m = scored.get(row["number"], {})
            row |= {
                f"{split}_cer": m.get("value"),
                f"{split}_cer_low": m.get("low"),
                f"{split}_cer_high": m.get("high"),
            }
    if fmt == "json":
        return json.dumps(rows, indent=2, allow_nan=False) + "\n"
    out = io.StringIO()
    columns = list(rows[0]) if rows else ["number", "state", "value", *[f"param_{n}" for n in names]]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()

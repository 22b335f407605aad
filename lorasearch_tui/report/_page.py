"""`lorasearch report`: one self-contained HTML page per study, written at the end of every
search next to the best files. Everything a person asks after a search on one page: the
figures, the best config and the command that trains it, the trial table, every plot, and the
best trial's curves. plotly.js is inlined once, so the page opens offline and loads nothing.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import printable
from ..events import (
    STATE_COLOURS,
    TrialOutcome,
    cells,
    difference_lines,
    evaluation_headers,
    evaluation_rows,
    evaluation_title,
    headers,
    saved_line,
    tied,
)
from ..results import StudyLook, curves, doubt_line
from ._plots import looking_copy, plans, plotly_figure
from ._view import best_line

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
.figures { display: flex; gap: 2em; flex-wrap: wrap; margin: 1em 0; }
.figures div { background: #f4f6f8; padding: 0.6em 1em; border-radius: 6px; }
.figures b { display: block; font-size: 1.4em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
td.l, th.l { text-align: left; }
pre { background: #f4f6f8; padding: 0.8em; overflow-x: auto; }
.skipped { color: #666; }
"""


def _e(value: Any) -> str:
    return html.escape(printable(str(value)), quote=True)


def report_html(looked: StudyLook, best_config: Path | None) -> str:
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    study, summary, rows, names, imp = (
        looked.study,
        looked.summary,
        looked.rows,
        looked.names,
        looked.importances,
    )

    best = next((r for r in rows if r.number == summary.best_number), None)
    ties = tied(summary.best_number, rows)
    who = f"tie: #{', #'.join(map(str, ties))}" if ties else f"#{summary.best_number}"
    parts = [
        f"<h1>Study {_e(summary.name)}</h1>",
        f'<p class="sub">{_e(summary.mode)} search, {_e(summary.pruner)} pruner, storage '
        f"{_e(summary.storage)}; written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</p>",
        '<div class="figures">',
        f"<div>trials done<b>{summary.done}/{summary.target}</b></div>",
        f"<div>complete / pruned / failed<b>{summary.counts['complete']} / {summary.counts['pruned']} / "
        f"{summary.counts['failed'] + summary.counts['interrupted']}</b></div>",
        f"<div>best {_e(summary.metric)}<b>{summary.best_value:.4f} ({who})</b></div>"
        if summary.best_value is not None
        else f"<div>best {_e(summary.metric)}<b>none yet</b></div>",
        f"<div>running<b>{'yes: ' + _e(', '.join(summary.runners)) if summary.alive else 'no'}</b></div>",
        "</div>",
    ]
    if best is not None:
        parts += _best_section(best, ties, summary.metric, best_config, summary.name)
        parts += _doubt_and_evaluation(looked, ties)
    parts.append("<h2>Parameter importances</h2>")
    if imp.values:
        parts.append(f"<p>{_e(imp.evaluator)}, from {imp.trials} complete trials</p><table>")
        parts += [f'<tr><td class="l">{_e(n)}</td><td>{v:.3f}</td></tr>' for n, v in imp.values.items()]
        parts.append("</table>")
    else:
        parts.append(f'<p class="skipped">none yet: {_e(imp.reason)}</p>')
    front = [r for r in rows if r.number in looked.pareto]
    if front:
        parts.append(f"<h2>Pareto front ({len(front)} trials)</h2><table><tr><th>#</th>")
        parts += [f"<th>{_e(m)}</th>" for m in summary.objectives]
        parts.append('<th class="l">params</th></tr>')
        for r in front:
            cells = "".join(f"<td>{v:.4g}</td>" for v in r.values or ())
            parts.append(f'<tr><td>{r.number}</td>{cells}<td class="l">{_e(json.dumps(r.shown))}</td></tr>')
        parts.append("</table>")
    parts.append("<h2>Trials</h2>" + _table(looked))

    copy = looking_copy(study, rows)
    parts.append("<h2>Plots</h2>")
    for plot in plans(copy, names, summary.metric, summary.objectives):
        parts.append(f"<h3>{_e(plot.title)}</h3>")
        if plot.reason is not None:
            parts.append(f'<p class="skipped">skipped: {_e(plot.reason)}</p>')
            continue
        parts.append(plotly_figure(plot, copy).to_html(full_html=False, include_plotlyjs=False))
    if best is not None:
        train, evals = curves(best)
        parts.append(f"<h3>Train and eval loss of the best trial (#{best.number})</h3>")
        if train or evals:
            figure = go.Figure()
            figure.add_scatter(x=[p["step"] for p in train], y=[p["loss"] for p in train], name="train loss")
            figure.add_scatter(
                x=[p["step"] for p in evals],
                y=[p["eval_loss"] for p in evals],
                name="eval loss",
                mode="lines+markers",
            )
            if summary.metric != "eval_loss":  # the objective's own curve, on an axis of its own
                steps, values = [p["step"] for p in evals], [p["value"] for p in evals]
                figure.add_scatter(x=steps, y=values, name=summary.metric, mode="lines+markers", yaxis="y2")
                figure.update_layout(yaxis2={"title": summary.metric, "overlaying": "y", "side": "right"})
            figure.update_layout(xaxis_title="step", yaxis_title="loss")
            parts.append(figure.to_html(full_html=False, include_plotlyjs=False))
        else:
            parts.append(
                f'<p class="skipped">skipped: no metrics.jsonl at {_e(best.trial_dir)} on this host</p>'
            )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>lorasearch: {_e(summary.name)}</title><style>{_STYLE}{_STATES}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


# the states in the palette every view uses
_STATES = " ".join(f".{state} {{ color: {colour}; }}" for state, colour in STATE_COLOURS.items())


def _best_section(
    best: TrialOutcome, ties: list[int], metric: str, best_config: Path | None, study: str
) -> list[str]:
    parts = ["<h2>Best trial</h2>"]
    if ties:
        parts.append(f'<p class="skipped">{_e(best_line(best, ties, metric, study))}</p>')
    parts.append("<pre>" + html.escape(json.dumps(best.shown, indent=2)) + "</pre>")
    if best.adapter:
        parts.append(f"<p>adapter: <code>{_e(best.adapter)}</code></p>")
    if best_config is not None:
        parts.append(f"<p>train it: <code>lorasearch train --config {_e(best_config)}</code></p>")
    return parts


def _doubt_and_evaluation(looked: StudyLook, ties: list[int]) -> list[str]:
    """Whether the search's evals tell the best apart, then what `evaluate` measured."""
    parts = []
    if looked.doubt is not None:
        line = _e(doubt_line(looked.doubt, looked.summary.name, ties))
        parts.append(f'<p class="{"skipped" if looked.doubt.close else ""}">{line}</p>')
    for split in ("val", "test"):
        if split in looked.evaluation:
            parts += _evaluation_section(looked.evaluation[split])
    return parts


def _evaluation_section(summary: dict[str, Any]) -> list[str]:
    """`lorasearch evaluate`'s table of one split and its paired lines, as `show` prints them."""
    head = "".join(f'<th class="l">{_e(h)}</th>' for h in evaluation_headers())
    rows = "".join(
        "<tr>" + "".join(f'<td class="l">{_e(c)}</td>' for c in row) + "</tr>"
        for row in evaluation_rows(summary)
    )
    lines = [*difference_lines(summary), *filter(None, [saved_line(summary)])]
    return [
        f"<h2>Evaluated: {_e(evaluation_title(summary))}</h2>",
        f"<table><tr>{head}</tr>{rows}</table>",
        *(f"<p>{_e(line)}</p>" for line in lines),
    ]


def _table(looked: StudyLook) -> str:
    """The trial table: the columns of `show` and the TUI, and why a trial did not complete."""
    names, objectives = looked.names, looked.summary.objectives
    head = [*headers(names, objectives), "reason"]
    out = [
        "<table><tr>"
        + "".join(f'<th class="{"l" if h in ("state", "reason") else ""}">{_e(h)}</th>' for h in head)
        + "</tr>"
    ]
    best, front = looked.summary.best_number, looked.pareto
    ties = tied(best, looked.rows)
    for r in looked.rows:
        row = [_e(c) for c in cells(r, names, objectives, best, front, ties)]
        row[1] = f'<span class="{r.label}">{r.label}</span>'
        row.append(_e(r.fail_reason or ""))
        out.append(
            "<tr>"
            + "".join(
                f'<td class="{"l" if i in (1, len(row) - 1) else ""}">{c}</td>' for i, c in enumerate(row)
            )
            + "</tr>"
        )
    return "\n".join(out) + "</table>"


def write_report(looked: StudyLook, path: Path) -> None:
    """The report page of a study, written atomically (a reader never sees half a page)."""
    from ..atomic import write_text
    from ..store import best_files

    best_config = best_files(looked.summary.name)[1]
    page = report_html(looked, best_config if best_config.exists() else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, page)

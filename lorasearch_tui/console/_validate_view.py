"""Render a `ValidationReport`: the space, the grid size, the splits, skipped records, lengths."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import describe
from ..data import KIND_LABELS
from ..validate import ValidationReport


def print_validation(report: ValidationReport, console: Console) -> None:
    """Print the report; `console` decides colours (none when writing to a file)."""
    config, data, lengths = report.config, report.data, report.lengths
    console.print(Text(f"Config {config.source}: valid", style="bold green"))

    if config.space:
        table = Table(title="Search space", title_justify="left", box=None, pad_edge=False)
        table.add_column("parameter", style="cyan")
        table.add_column("distribution")
        for name, dist in config.space.items():
            table.add_row(name, describe(dist))
        console.print(table)
        size = config.grid_size()
        console.print(
            f"Grid size: {size} combinations"
            if size is not None
            else "Grid size: none (a continuous range; grid mode needs int and categorical entries only)",
            markup=False,
        )
    else:
        console.print("No search_space: a single training run (lorasearch train).", markup=False)

    fixed = Table(title="Fixed parameters set in the file", title_justify="left", box=None, pad_edge=False)
    fixed.add_column("parameter", style="cyan")
    fixed.add_column("value")
    for name in sorted(config.explicit):
        fixed.add_row(name, Text(repr(getattr(config.params, name))))
    if config.explicit:
        console.print(fixed)

    console.print(f"Model folder: {report.model_dir}", markup=False, highlight=False)
    at = f" (commit {data.revision[:12]})" if data.revision else ""
    console.print(
        f"Data: {data.source}{at} — {KIND_LABELS[data.kind]}, {data.n_records} records",
        markup=False,
        highlight=False,
    )
    console.print(f"  train_split {config.params.train_split!r}: {len(data.train)} examples", markup=False)
    console.print(f"  val_split   {config.params.val_split!r}: {len(data.val)} examples", markup=False)
    if data.test:
        where = f" of {config.params.test_data}" if config.params.test_data else ""
        console.print(
            f"  test_split  {config.params.test_split or 'train'!r}{where}: {len(data.test)} examples "
            f"(held out: only lorasearch evaluate --split test reads them)",
            markup=False,
        )
    if data.skipped:
        for why, count in data.skipped.items():
            console.print(f"  skipped: {count} records with {why}", markup=False)
    else:
        console.print("  skipped: none", markup=False)

    table = Table(title=f"Lengths ({lengths.unit})", title_justify="left", box=None, pad_edge=False)
    for column in ("", "min", "median", "p95", "max"):
        table.add_column(column, justify="right" if column else "left")
    for label, spread in (("prompt", lengths.prompt), ("answer", lengths.answer), ("total", lengths.total)):
        table.add_row(label, *(str(v) for v in (spread.min, spread.median, spread.p95, spread.max)))
    console.print(table)
    if lengths.image_tokens_per_image is not None:
        console.print(f"  prompts include {lengths.image_tokens_per_image} tokens per image", markup=False)
    for warning in report.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))

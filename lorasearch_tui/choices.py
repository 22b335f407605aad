"""The fixed choices of the command line, typed once.

Typer shows each as `<a|b|c>` in the help and refuses anything else (exit 2) before a command
runs; the engine takes its tuples from the same types, so a new choice is added in one place.
Nothing is imported here: the CLI reads this before any heavy module loads.
"""

from __future__ import annotations

from typing import Literal, get_args

SearchMode = Literal["bayesian", "random", "grid", "gp", "nsga2"]
Pruner = Literal[
    "median", "hyperband", "successive_halving", "percentile", "patient", "threshold", "wilcoxon", "none"
]
TableSort = Literal["number", "value", "duration", "state"]
ExportFormat = Literal["csv", "json"]
PlotFormat = Literal["html", "png", "both"]
EvaluateSplit = Literal["val", "test"]

MODES: tuple[str, ...] = get_args(SearchMode)
PRUNERS: tuple[str, ...] = get_args(Pruner)
SORTS: tuple[str, ...] = get_args(TableSort)
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
PLOT_FORMATS: tuple[str, ...] = get_args(PlotFormat)

"""Looking at a study: Rich tables for the terminal, CSV/JSON exports, Optuna's plots as HTML
and PNG, and the one-page HTML report. Called by the CLI's result commands only: the engine
never imports this package (nor plotly or matplotlib; an import-linter contract says so), and
plotly and matplotlib are imported inside the functions that draw, so `lorasearch --help`
stays fast."""

from ._export import export_text
from ._page import write_report
from ._plots import write_plots
from ._tables import fail_reasons, studies_table
from ._view import evaluation_view, study_view

__all__ = [
    "evaluation_view",
    "export_text",
    "fail_reasons",
    "studies_table",
    "study_view",
    "write_plots",
    "write_report",
]

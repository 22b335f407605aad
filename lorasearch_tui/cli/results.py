"""The commands that look at a study: studies, show, export, plot, report, dashboard.

Thin: each opens the study read-only through `results.look` (a missing study, an empty one or
a storage that cannot be opened ends with exit code 2 and one line) and hands it to a renderer
of `report`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..choices import ExportFormat, PlotFormat, TableSort
from ._shared import StorageOption, user_errors

if TYPE_CHECKING:
    from ..results import StudyLook

_PLOTS_HELP = "Folder (default: optuna_studies/STUDY_plots)."
_REPORT_HELP = "File (default: optuna_studies/STUDY_report.html)."
SortOption = Annotated[TableSort, typer.Option("--sort", help="Order of the trial table.")]


def studies(storage: StorageOption = None) -> None:
    """List the studies: mode, trials done/target by state, best value, last activity, and
    whether a search still runs them (every optuna_studies/*.db, or --storage)."""
    from ..report import studies_table
    from ..results import list_studies, storages_here

    with user_errors():
        storages = [storage] if storage else storages_here()
        found = list_studies(storages)
    console = _console()
    if not found:
        where = "optuna_studies/ (start one with `lorasearch search`, or give --storage)"
        console.print(f"no studies in {storage if storage else where}", markup=False)
        return
    console.print(studies_table(found))


def show(
    study: Annotated[str, typer.Argument(help="Name of the study.")],
    storage: StorageOption = None,
    sort: SortOption = "number",
    as_json: Annotated[bool, typer.Option("--json", help="Print the same as JSON, for scripts.")] = False,
) -> None:
    """A study's trial table, its best trial with the command that trains it, the parameter
    importances and why trials failed."""
    with user_errors():
        looked = _look(study, storage)
    if as_json:
        print(json.dumps(_show_json(looked), indent=2, allow_nan=False))
    else:
        _show_rich(looked, sort)


def export(
    study: Annotated[str, typer.Argument(help="Name of the study.")],
    storage: StorageOption = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
) -> None:
    """One row per trial (state, value, params, fail reason, duration, steps, pruned-at step,
    peak memory, tokens/s, its folder) as CSV or JSON."""
    from ..report import export_text

    with user_errors():
        looked = _look(study, storage)
        text = export_text(looked, fmt)
        if out is None:
            sys.stdout.write(text)
            return
        _write(out, text)
    print(f"wrote {out} ({len(looked.rows)} trials)")


def plot(
    study: Annotated[str, typer.Argument(help="Name of the study.")],
    storage: StorageOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder (default: optuna_studies/STUDY_plots).")
    ] = None,
    fmt: Annotated[
        PlotFormat, typer.Option("--format", help="html (interactive, offline), png or both.")
    ] = "both",
) -> None:
    """Optuna's plots of the study: optimization history, importances, parallel coordinates,
    slice, contour, every trial's eval curve, timeline."""
    from ..report import write_plots
    from ..store import RESULTS_DIR

    with user_errors():
        looked = _look(study, storage)
        folder = out or RESULTS_DIR / f"{study}_plots"
        written = _guard_write(
            lambda: write_plots(
                looked.study,
                looked.rows,
                looked.names,
                folder,
                fmt,
                looked.summary.metric,
                looked.summary.objectives,
            )
        )
    for shown, paths in written:
        if shown.reason is not None:
            print(f"skipped {shown.name}: {shown.reason}")
        for path in paths:
            print(f"wrote {path}")


def report(
    study: Annotated[str, typer.Argument(help="Name of the study.")],
    storage: StorageOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="File (default: optuna_studies/STUDY_report.html).")
    ] = None,
) -> None:
    """One self-contained HTML page: the figures, the best config and how to train it, the
    trial table, every plot and the best trial's curves (opens offline)."""
    from ..report import write_report
    from ..store import report_file

    with user_errors():
        looked = _look(study, storage)
        path = out or report_file(study)
        _guard_write(lambda: write_report(looked, path))
    print(f"wrote {path}")


def dashboard(
    study: Annotated[str, typer.Argument(help="Name of the study.")],
    storage: StorageOption = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8080,
) -> None:
    """Start optuna-dashboard on the study's storage, bound to 127.0.0.1 (pip install
    'lorasearch-tui[dashboard]'); prints the SSH port-forward line for a remote user."""
    import socket

    from ..errors import UserError
    from ..store import default_storage, mask_password, open_storage

    with user_errors():
        try:
            import optuna_dashboard
        except ImportError:
            raise UserError(
                "optuna-dashboard is not installed: pip install 'lorasearch-tui[dashboard]'"
            ) from None
        looked = _look(study, storage)
        url = storage or default_storage(study)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise UserError(f"--port: {port} is in use on 127.0.0.1; choose another")
    host = socket.gethostname()
    print(f"optuna-dashboard for study {looked.summary.name} ({mask_password(url)})")
    print(f"  here:         http://127.0.0.1:{port}/dashboard/studies/{looked.study._study_id}")
    print(f"  from your PC: ssh -N -L {port}:127.0.0.1:{port} {host}  then open http://127.0.0.1:{port}")
    print("Ctrl+C stops it.", flush=True)
    try:
        optuna_dashboard.run_server(open_storage(url), host="127.0.0.1", port=port)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _look(study: str, storage: str | None) -> StudyLook:
    from ..results import look

    return look(study, storage)


def _write(path: Path, text: str) -> None:
    from ..atomic import write_text

    _guard_write(lambda: (path.parent.mkdir(parents=True, exist_ok=True), write_text(path, text)))


def _guard_write(action: Any) -> Any:
    """A file that cannot be written is the user's to fix: one line, exit code 2."""
    from ..errors import UserError

    try:
        return action()
    except OSError as exc:
        raise UserError(f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}") from None


def _show_json(looked: StudyLook) -> dict[str, Any]:
    from ..events import tied
    from ..report import fail_reasons
    from ..results import flat
    from ..store import best_files, pareto_config_file

    summary, rows, names, imp = looked.summary, looked.rows, looked.names, looked.importances
    best = next((r for r in rows if r.number == summary.best_number), None)
    return {
        "study": summary.name,
        "storage": summary.storage,
        "mode": summary.mode,
        "pruner": summary.pruner,
        "target": summary.target,
        "counts": summary.counts,
        "running": summary.alive,
        "best": None
        if best is None
        else {
            "number": best.number,
            "value": best.value,
            "params": best.shown,  # as it trained (a multiple's product, not its factor)
            "adapter": str(best.adapter) if best.adapter else None,
            "train_command": f"lorasearch train --config {best_files(summary.name)[1]}",
            "tied_with": tied(summary.best_number, rows),  # trials of exactly its value, itself in
            # a generated metric: its interval over its eval's records, and the trials a paired
            # difference on those records cannot tell from it
            "interval": looked.doubt.interval if looked.doubt else None,
            "indistinct_from": looked.doubt.close if looked.doubt else [],
        },
        "objectives": list(summary.objectives) or [summary.metric],
        "pareto_front": [
            {
                "number": r.number,
                "values": list(r.values or ()),
                "params": r.shown,
                "adapter": str(r.adapter) if r.adapter else None,
                "train_command": f"lorasearch train --config {pareto_config_file(summary.name, r.number)}",
            }
            for r in rows
            if r.number in looked.pareto
        ],
        "importances": {"evaluator": imp.evaluator, "values": imp.values, "reason": imp.reason},
        "fail_reasons": dict(fail_reasons(rows)),
        "trials": [flat(row, names, summary.objectives, looked.pareto) for row in rows],
        "evaluation": looked.evaluation,  # what `lorasearch evaluate` measured, per split
    }


def _console() -> Any:
    """A Rich console; into a file or a pipe, wide enough that tables are not squeezed to 80."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def _show_rich(looked: StudyLook, sort: str) -> None:
    from ..report import study_view

    _console().print(study_view(looked, sort))

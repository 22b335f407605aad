"""The commands that look at a study: studies, show, export, plot, report, dashboard.

Thin: each opens the study read-only through `results` (a missing study, an empty one or a
storage that cannot be opened ends with exit code 2 and one line) and hands it to a renderer
of `report`. Registered on the CLI's app by `cli.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .choices import ExportFormat, PlotFormat, TableSort
from .cli_common import StorageOption, user_errors

_PLOTS_HELP = "Folder (default: optuna_studies/STUDY_plots)."
_REPORT_HELP = "File (default: optuna_studies/STUDY_report.html)."
SortOption = Annotated[TableSort, typer.Option("--sort", help="Order of the trial table.")]


def register(app: typer.Typer) -> None:
    """Add the result commands to `app`."""

    @app.command()
    def studies(storage: StorageOption = None) -> None:
        """List the studies: mode, trials done/target by state, best value, last activity, and
        whether a search still runs them (every optuna_studies/*.db, or --storage)."""
        from .report import studies_table
        from .results import list_studies, storages_here

        with user_errors():
            storages = [storage] if storage else storages_here()
            found = list_studies(storages)
        console = _console()
        if not found:
            where = "optuna_studies/ (start one with `lorasearch search`, or give --storage)"
            console.print(f"no studies in {storage if storage else where}", markup=False)
            return
        console.print(studies_table(found))

    @app.command()
    def show(
        study: Annotated[str, typer.Argument(help="Name of the study.")],
        storage: StorageOption = None,
        sort: SortOption = "number",
        as_json: Annotated[bool, typer.Option("--json", help="Print the same as JSON, for scripts.")] = False,
    ) -> None:
        """A study's trial table, its best trial with the command that trains it, the parameter
        importances and why trials failed."""
        with user_errors():
            looked = look(study, storage)
        if as_json:
            print(json.dumps(_show_json(looked), indent=2, allow_nan=False))
        else:
            _show_rich(looked, sort)

    @app.command()
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
        from .report import export_text

        with user_errors():
            looked = look(study, storage)
            text = export_text(looked["rows"], looked["names"], fmt, looked["summary"].objectives)
            if out is None:
                sys.stdout.write(text)
                return
            _write(out, text)
        print(f"wrote {out} ({len(looked['rows'])} trials)")

    @app.command()
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
        from .report import write_plots
        from .store import RESULTS_DIR

        with user_errors():
            looked = look(study, storage)
            folder = out or RESULTS_DIR / f"{study}_plots"
            written = _guard_write(
                lambda: write_plots(
                    looked["study"],
                    looked["rows"],
                    looked["names"],
                    folder,
                    fmt,
                    looked["summary"].metric,
                    looked["summary"].objectives,
                )
            )
        for shown, paths in written:
            if shown.reason is not None:
                print(f"skipped {shown.name}: {shown.reason}")
            for path in paths:
                print(f"wrote {path}")

    @app.command()
    def report(
        study: Annotated[str, typer.Argument(help="Name of the study.")],
        storage: StorageOption = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="File (default: optuna_studies/STUDY_report.html).")
        ] = None,
    ) -> None:
        """One self-contained HTML page: the figures, the best config and how to train it, the
        trial table, every plot and the best trial's curves (opens offline)."""
        from .store import report_file

        with user_errors():
            looked = look(study, storage)
            path = out or report_file(study)
            _guard_write(lambda: write_report(looked, path))
        print(f"wrote {path}")

    @app.command()
    def dashboard(
        study: Annotated[str, typer.Argument(help="Name of the study.")],
        storage: StorageOption = None,
        port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8080,
    ) -> None:
        """Start optuna-dashboard on the study's storage, bound to 127.0.0.1 (pip install
        'lorasearch-tui[dashboard]'); prints the SSH port-forward line for a remote user."""
        import socket

        from .errors import UserError
        from .store import default_storage, mask_password, open_storage

        with user_errors():
            try:
                import optuna_dashboard
            except ImportError:
                raise UserError(
                    "optuna-dashboard is not installed: pip install 'lorasearch-tui[dashboard]'"
                ) from None
            looked = look(study, storage)
            url = storage or default_storage(study)
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    raise UserError(f"--port: {port} is in use on 127.0.0.1; choose another")
        host = socket.gethostname()
        print(f"optuna-dashboard for study {looked['summary'].name} ({mask_password(url)})")
        print(f"  here:         http://127.0.0.1:{port}/dashboard/studies/{looked['study']._study_id}")
        print(f"  from your PC: ssh -N -L {port}:127.0.0.1:{port} {host}  then open http://127.0.0.1:{port}")
        print("Ctrl+C stops it.", flush=True)
        try:
            optuna_dashboard.run_server(open_storage(url), host="127.0.0.1", port=port)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None


def look(study_name: str, storage: str | None) -> dict[str, Any]:
    """The study, its rows, searched parameter names, summary and importances; UserError when
    there is nothing to look at."""
    from .errors import UserError
    from .results import importances, open_existing, stored_config, summarize, trial_rows
    from .store import default_storage, mask_password

    study = open_existing(study_name, storage)
    config = stored_config(study)
    rows = trial_rows(study)
    if not rows:
        raise UserError(f"study '{study_name}' has no trials yet")
    names = list(config.space)
    summary = summarize(study, mask_password(storage or default_storage(study_name)))
    return {
        "study": study,
        "config": config,
        "rows": rows,
        "names": names,
        "summary": summary,
        "importances": importances(study, names),
    }


def write_report(looked: dict[str, Any], path: Path) -> None:
    from .atomic import write_text
    from .report import report_html
    from .store import best_files

    best_config = best_files(looked["summary"].name)[1]
    page = report_html(
        looked["study"],
        looked["summary"],
        looked["rows"],
        looked["names"],
        looked["importances"],
        best_config if best_config.exists() else None,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, page)


def _write(path: Path, text: str) -> None:
    from .atomic import write_text

    _guard_write(lambda: (path.parent.mkdir(parents=True, exist_ok=True), write_text(path, text)))


def _guard_write(action: Any) -> Any:
    """A file that cannot be written is the user's to fix: one line, exit code 2."""
    from .errors import UserError

    try:
        return action()
    except OSError as exc:
        raise UserError(f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}") from None


def _show_json(looked: dict[str, Any]) -> dict[str, Any]:
    from .report import fail_reasons
    from .store import best_files, pareto_config_file

    summary, rows, names, imp = looked["summary"], looked["rows"], looked["names"], looked["importances"]
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
            "params": best.params,
            "adapter": str(best.adapter) if best.adapter else None,
            "train_command": f"lorasearch train --config {best_files(summary.name)[1]}",
        },
        "objectives": list(summary.objectives) or [summary.metric],
        "pareto_front": [
            {
                "number": r.number,
                "values": list(r.values or ()),
                "params": r.params,
                "adapter": str(r.adapter) if r.adapter else None,
                "train_command": f"lorasearch train --config {pareto_config_file(summary.name, r.number)}",
            }
            for r in rows
            if r.pareto
        ],
        "importances": {"evaluator": imp.evaluator, "values": imp.values, "reason": imp.reason},
        "fail_reasons": dict(fail_reasons(rows)),
        "trials": [row.flat(names, summary.objectives) for row in rows],
    }


def _console() -> Any:
    """A Rich console; into a file or a pipe, wide enough that tables are not squeezed to 80."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def _show_rich(looked: dict[str, Any], sort: str) -> None:
    _console().print(study_view(looked, sort))


def study_view(looked: dict[str, Any], sort: str = "number") -> Any:
    """A study in the terminal, as `show` prints it and the home screen's `v` shows it: the
    figures, the trial table, the best trial and the command that trains it, the importances
    and why trials did not complete."""
    from rich.console import Group
    from rich.text import Text

    from .errors import printable
    from .report import fail_reasons, importance_bars, sort_rows, trials_table
    from .store import best_files, pareto_config_file

    summary, rows, names = looked["summary"], looked["rows"], looked["names"]
    counts = summary.counts
    state = "RUNNING (" + ", ".join(summary.runners) + ")" if summary.alive else "not running"
    parts: list[Any] = [
        Text(
            f"Study {printable(summary.name)}: {summary.mode}/{summary.pruner}, "
            f"{summary.done}/{summary.target} done ({counts['complete']} complete, "
            f"{counts['pruned']} pruned, "
            f"{counts['failed'] + counts['interrupted']} failed, {counts['running']} running), {state}"
        ),
        trials_table(
            sort_rows(rows, sort), names, summary.best_number, f"Trials (by {sort})", summary.objectives
        ),
    ]
    best = next((r for r in rows if r.number == summary.best_number), None)
    if best is None:
        parts.append(Text("no COMPLETE trial yet"))
    else:
        parts.append(Text(f"Best: trial {best.number}, {summary.metric} {best.value:.4f}", style="bold"))
        parts += [
            Text(f"  {printable(name)} = {printable(str(value))}") for name, value in best.params.items()
        ]
        if best.adapter:
            parts.append(Text(f"  adapter: {best.adapter}"))
        parts.append(Text(f"  train it: lorasearch train --config {best_files(summary.name)[1]}"))
    front = [r for r in rows if r.pareto]
    if front:
        parts.append(
            Text(
                f"Pareto front ({len(front)} of {counts['complete']} complete trials): "
                f"{', '.join(summary.objectives)}",
                style="bold",
            )
        )
        for r in front:
            values = ", ".join(f"{v:.4g}" for v in r.values or ())
            parts.append(
                Text(
                    f"  trial {r.number}: {values}  train it: lorasearch train --config "
                    f"{pareto_config_file(summary.name, r.number)}"
                )
            )
    parts.append(importance_bars(looked["importances"]))
    reasons = fail_reasons(rows)
    if reasons:
        parts.append(Text("Why trials did not complete", style="bold"))
        parts += [Text(f"  {n} x {printable(reason)}") for reason, n in reasons]
    return Group(*parts)


class HomeStudies:
    """The home screen's source (`tui.home.HomeSource`): the studies of every
    `optuna_studies/*.db` (and of LORASEARCH_STORAGE when it is set), a study's report as Rich
    renderables, and the configs of `configs/` and `configs/examples/` with their check."""

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}

    def studies(self) -> list[Any]:
        import os

        from .results import list_studies, storages_here

        storages = storages_here()
        if os.environ.get("LORASEARCH_STORAGE"):
            storages.append(os.environ["LORASEARCH_STORAGE"])
        found = []
        for url in storages:
            for summary in list_studies([url]):
                self._urls[summary.name] = url
                found.append(summary)
        return sorted(found, key=lambda s: s.name)

    def storage_of(self, name: str) -> str | None:
        return self._urls.get(name)

    def report(self, name: str) -> Any:
        from rich.text import Text

        from .errors import RunFailure, UserError

        try:
            return study_view(look(name, self._urls.get(name)))
        except (UserError, RunFailure) as exc:
            return Text(str(exc), style="red")

    def configs(self) -> list[Path]:
        """The configs of `configs/` and `configs/examples/` that `search` can run: a fixed
        config (no search_space, for `train`) is left out. One that does not load stays, so
        that picking it shows why."""
        from .config import load_config
        from .errors import UserError

        def searchable(path: Path) -> bool:
            try:
                return bool(load_config(path).space)
            except UserError:
                return True

        found = [*sorted(Path("configs").glob("*.json")), *sorted(Path("configs/examples").glob("*.json"))]
        return [path for path in found if searchable(path)]

    def check_config(self, path: Path) -> str | None:
        from .config import load_config
        from .errors import UserError

        try:
            load_config(path)
        except UserError as exc:
            return str(exc)
        return None

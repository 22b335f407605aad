"""The `lorasearch` command line (Typer): the app, its callback, and every command registered once.

Exit codes: 0 ok; 2 bad usage, config or data (one line on stderr, nothing written);
130 interrupted; 1 a bug (with its traceback). Heavy libraries are imported inside the
commands that train, so `lorasearch --help` answers at once.

One module per command group (`config`, `train`, `search`, `evaluate`, `results`), plus `_shared` (the
options written once, errors, the console) and the helpers `_run` (a search from the command
line) and `_home` (the home screen's source). No command module imports another.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from . import config, evaluate, results, search, train
from ._shared import use_tui

app = typer.Typer(
    name="lorasearch",
    help="Find the best hyperparameters for QLoRA fine-tuning, from the terminal.",
    invoke_without_command=True,  # `lorasearch` alone: the home screen in a terminal, else the help
    add_completion=False,
    rich_markup_mode=None,
    # A traceback is for bugs; its local variables could hold a storage URL with a password.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"lorasearch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find the best hyperparameters for QLoRA fine-tuning, from the terminal.

    Without a command, in a terminal: the home screen (the studies here; watch, resume, start,
    look at one)."""
    if ctx.invoked_subcommand is not None:
        return
    if not use_tui(False):
        print(ctx.get_help())
        raise typer.Exit()
    search.home()


# Every command, in the order the help lists them.
for command in (
    config.schema,
    config.validate,
    train.train,
    train.merge,
    search.search,
    search.demo,
    search.watch,
    search.proxy,
    evaluate.evaluate,
    results.studies,
    results.show,
    results.export,
    results.plot,
    results.report,
    results.dashboard,
):
    app.command()(command)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

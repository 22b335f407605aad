"""What the command modules share: the options written once (config, --set, storage, --no-tui),
the one-line error handling, and the console helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

from ..errors import ExitCode, RunFailure, UserError, printable

StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar="LORASEARCH_STORAGE",
        show_envvar=True,
        help="Optuna storage URL. Default: sqlite:///optuna_studies/STUDY.db. Set LORASEARCH_STORAGE "
        "instead to keep a password out of the process list.",
        show_default=False,
    ),
]

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="Config file, JSON or YAML (see `lorasearch schema`).", show_default=False
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="KEY=VALUE: change any key of the config, nested ones by dots (--set lora_r=32 --set "
        "search_space.learning_rate.high=1e-3). Repeatable.",
        show_default=False,
    ),
]
NoTuiOption = Annotated[
    bool,
    typer.Option(
        "--no-tui", help="Plain console output instead of the terminal UI (also when not a terminal)."
    ),
]


def use_tui(no_tui: bool) -> bool:
    """The terminal UI only where a person can see it: both ends of the terminal are a tty."""
    return not no_tui and sys.stdout.isatty() and sys.stdin.isatty()


def console_setup() -> Console:
    """The console of a command that logs (the engine's warnings go to it)."""
    from rich.console import Console

    from ..console import setup_logging

    setup_logging()
    return Console()


def say(console: Console, text: str) -> None:
    """A line to the console, or nothing when it is gone (the SSH connection dropped). Never
    cut by lorasearch (Rich would at 80 columns in a log file): a path or URL stays whole."""
    try:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    except OSError:
        pass


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Say `message` on stderr in one line, control characters escaped, and exit with `code`."""
    sys.stderr.write(f"error: {printable(message)}\n")
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """A `UserError` becomes one line on stderr and exit code 2, a `RunFailure` one line and
    exit code 1, Ctrl+C exit code 130."""
    try:
        yield
    except UserError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except RunFailure as exc:
        raise fail(str(exc), ExitCode.BUG) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(ExitCode.INTERRUPTED) from None

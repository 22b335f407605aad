"""The `lorasearch` command line (Typer).

Exit codes: 0 ok; 2 bad usage, config or data (one line on stderr, nothing written);
130 interrupted; 1 a bug (with its traceback). Heavy libraries are imported inside the
commands that train, so `lorasearch --help` answers at once.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from . import __version__
from .errors import ExitCode, UserError

app = typer.Typer(
    name="lorasearch",
    help="Find the best hyperparameters for QLoRA fine-tuning, from the terminal.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="JSON config file (see `lorasearch schema`).", show_default=False),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a `UserError` into one line on stderr and exit code 2; Ctrl+C into 130."""
    try:
        yield
    except UserError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def _version(value: bool) -> None:
    if value:
        print(f"lorasearch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find the best hyperparameters for QLoRA fine-tuning, from the terminal."""


@app.command()
def schema() -> None:
    """Print the JSON Schema of the config file (for editors: "$schema" in your config)."""
    from .config import config_schema

    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))


@app.command()
def validate(config: ConfigOption) -> None:
    """Check a config and its data without loading a model, and show what a run would see."""
    from .config import load_config
    from .console import print_validation, setup_logging
    from .validate import validate as run_validate

    setup_logging()
    with user_errors():
        report = run_validate(load_config(config))
    print_validation(report, Console())


@app.command()
def train(
    config: ConfigOption,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Folder for the adapter, processor and metrics.")
    ],
    merge: Annotated[
        bool, typer.Option("--merge", help="Also write a 16-bit merged model to OUTPUT_DIR/merged.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an adapter already in OUTPUT_DIR.")
    ] = False,
) -> None:
    """Train one LoRA adapter with the fixed parameters of a config (no search_space).

    Ctrl+C stops after the current step and still saves what was trained (exit code 130).
    """
    from .config import load_config
    from .console import TrainProgress, print_run_result, setup_logging
    from .training import train_job

    setup_logging()
    console = Console()
    with user_errors():
        loaded = load_config(config)
        if loaded.space:
            raise UserError(
                f"{config}: search_space: lorasearch train runs one fixed config; remove search_space "
                f"(a search's *_best_config.json has none) or run lorasearch search"
            )
        if (output_dir / "adapter_config.json").exists() and not overwrite:
            raise UserError(
                f"--output-dir: {output_dir} already holds an adapter; "
                f"choose another folder or pass --overwrite"
            )
        with TrainProgress(console) as progress, _stop_on_sigint(progress.request_stop, console):
            result = train_job(loaded.params, output_dir, merge=merge, observer=progress)
    print_run_result(result, output_dir, merge, console)
    if result.stopped_at is not None:
        raise typer.Exit(ExitCode.INTERRUPTED)


@contextmanager
def _stop_on_sigint(request_stop: Callable[[], None], console: Console) -> Iterator[None]:
    """First Ctrl+C: stop after this step and save; a second one: stop at once."""
    previous: Any = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        request_stop()
        console.print("stopping after this step; Ctrl+C again to quit without saving", markup=False)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

"""The `lorasearch` command line (Typer).

Exit codes: 0 ok; 2 bad usage, config or data (one line on stderr, nothing written);
130 interrupted; 1 a bug (with its traceback). Heavy libraries are imported inside the
commands that train, so `lorasearch --help` answers at once.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import __version__, cli_results, cli_train
from .choices import Pruner, SearchMode
from .cli_common import ConfigOption, SetOption, StorageOption, user_errors
from .cli_search import SearchSettingsGiven, console_setup, run_search
from .errors import ExitCode

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

NoTuiOption = Annotated[
    bool,
    typer.Option(
        "--no-tui", help="Plain console output instead of the terminal UI (also when not a terminal)."
    ),
]


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
    if not _use_tui(False):
        print(ctx.get_help())
        raise typer.Exit()
    _home()


def _home() -> None:
    """The home screen, and what it was asked to do; back to it when that ends."""
    from .tui import HomeApp

    source = cli_results.HomeStudies()
    while True:
        choice = HomeApp(source).run()
        if choice is None:
            return
        url = source.storage_of(choice.study) if choice.study else None
        try:
            if choice.action == "watch":
                _watch(choice.study, url)
            elif choice.action == "resume":
                # extending a finished study: a resume with a larger --n-trials, given as such
                flags = SearchSettingsGiven(n_trials=choice.n_trials or SearchSettingsGiven.n_trials)
                given = {"n_trials"} if choice.n_trials else set()
                run_search(None, {}, choice.study, flags, True, url, given, DEFAULT_SEARCH, True)
            else:
                run_search(
                    choice.config, {}, None, SearchSettingsGiven(), False, None, set(), DEFAULT_SEARCH, True
                )
        except typer.Exit as stop:  # a search that ended badly said why on stderr
            if stop.exit_code == ExitCode.INTERRUPTED:
                raise


@app.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The README's config reference table instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the config file (for editors: "$schema" in your config)."""
    from .config import config_schema

    if markdown:
        from .config._reference import reference_markdown

        print(reference_markdown())
        return
    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))


@app.command()
def validate(config: ConfigOption, sets: SetOption = None) -> None:
    """Check a config and its data without loading a model, and show what a run would see."""
    from .config import load_config
    from .console import print_validation, setup_logging
    from .validate import validate as run_validate

    setup_logging()
    with user_errors():
        report = run_validate(load_config(config, sets=sets))
    print_validation(report, Console())


cli_train.register(app)  # train, merge: making adapters and models


# The search without --config: the specification's default space over the default parameters.
DEFAULT_SEARCH = {
    "search_space": {
        "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 5e-4},
        "num_train_epochs": {"type": "int", "low": 2, "high": 5},
    }
}


@app.command()
def search(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="JSON config with a search_space. Default: learning_rate "
            "loguniform(1e-5, 5e-4) and num_train_epochs int(2, 5) over the defaults.",
            show_default=False,
        ),
    ] = None,
    study_name: Annotated[
        str | None,
        typer.Option("--study-name", help="Study name. Default: a timestamped one.", show_default=False),
    ] = None,
    n_trials: Annotated[
        int | None,
        typer.Option("--n-trials", min=1, help="Trials the study should hold (grid: all). [default: 20]"),
    ] = None,
    search_mode: Annotated[
        SearchMode | None,
        typer.Option(
            "--search-mode",
            help="bayesian (TPE), random, grid, gp (Gaussian process) or nsga2 (genetic, for several "
            "objectives). [default: bayesian]",
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Start no new trial after this many seconds.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an existing study.")] = False,
    storage: StorageOption = None,
    trial_timeout: Annotated[
        float | None,
        typer.Option(
            "--trial-timeout",
            min=1,
            help="Stop a trial after this many seconds of its own (model loading apart): FAIL 'timed "
            "out'. Stored in the study; also the config key trial_timeout. [default: no limit]",
            show_default=False,
        ),
    ] = None,
    stall_limit: Annotated[
        float,
        typer.Option(
            "--stall-limit",
            min=1,
            help="A training worker silent this many seconds is stalled: its trial FAILs and a fresh "
            "worker goes on (6x this, at least 120 s, while it starts or loads the model).",
        ),
    ] = 300.0,
    max_failures_in_a_row: Annotated[
        int,
        typer.Option(
            "--max-failures-in-a-row",
            min=0,
            help="Stop the search (exit 1) when this many trials in a row fail the same way; "
            "--resume runs them again. 0: never stop.",
        ),
    ] = 3,
    pruner: Annotated[
        Pruner | None,
        typer.Option("--pruner", help="Stops unpromising trials early. [default: median]"),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(
            "--gpus",
            help="GPUs to train on, one trial each at once: all, none, or numbers like 0,1,3 (as "
            "nvidia-smi numbers them, or their place in CUDA_VISIBLE_DEVICES). [default: all, or "
            "the CPU where there is no GPU]",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Trials at once on the CPU (each gets an equal share of the cores). [default: 1]",
            show_default=False,
        ),
    ] = None,
    trials_per_gpu: Annotated[
        int,
        typer.Option("--trials-per-gpu", min=1, help="Trials at once on each GPU (a large GPU fits two)."),
    ] = 1,
    lost_after: Annotated[
        float,
        typer.Option(
            "--lost-after",
            min=1,
            help="A running trial whose runner (this search or another one sharing the study) has "
            "not renewed its lease for this many seconds is recorded lost, and its params run again.",
        ),
    ] = 180.0,
    recycle_every: Annotated[
        int | None,
        typer.Option(
            "--recycle-every",
            min=1,
            help="Replace a trial worker by a fresh process after this many trials (it reloads the "
            "base model). [default: only when the memory guard says so]",
            show_default=False,
        ),
    ] = None,
    recycle_above: Annotated[
        float | None,
        typer.Option(
            "--recycle-above",
            min=0,
            help="The memory guard: replace a worker when more than this many GiB stayed held after "
            "a trial (beyond what it held with the base model loaded). [default: 5% of the GPU, "
            "1 GiB on the CPU]",
            show_default=False,
        ),
    ] = None,
    no_tui: NoTuiOption = False,
    sets: SetOption = None,
    model_name: Annotated[str | None, typer.Option("--model-name", help="Override model_name.")] = None,
    input_data: Annotated[str | None, typer.Option("--input-data", help="Override input_data.")] = None,
    instruction: Annotated[str | None, typer.Option("--instruction", help="Override instruction.")] = None,
    base_output_dir: Annotated[
        str | None, typer.Option("--base-output-dir", help="Override base_output_dir.")
    ] = None,
) -> None:
    """Search hyperparameters: each trial trains a real adapter; bad ones are pruned early.

    Ctrl+C records the running trial as interrupted, writes the result files and exits 130;
    --resume runs that trial again.
    """
    overrides = {
        "model_name": model_name,
        "input_data": input_data,
        "instruction": instruction,
        "base_output_dir": base_output_dir,
    }
    flags = (
        ("mode", search_mode),
        ("pruner", pruner),
        ("n_trials", n_trials),
        ("trial_timeout", trial_timeout),
    )
    given = {k for k, v in flags if v is not None}
    run_search(
        config,
        overrides,
        study_name,
        SearchSettingsGiven(
            n_trials=n_trials or 20,
            mode=search_mode or "bayesian",
            pruner=pruner or "median",
            timeout=timeout,
            trial_timeout=trial_timeout,
            stall_limit=stall_limit,
            max_failures_in_a_row=max_failures_in_a_row,
            gpus=gpus,
            workers=workers,
            trials_per_gpu=trials_per_gpu,
            lost_after=lost_after,
            recycle_every=recycle_every,
            recycle_above=recycle_above,
        ),
        resume,
        storage,
        given,
        default_space=DEFAULT_SEARCH,
        use_tui=_use_tui(no_tui),
        sets=sets or [],
    )


DEMO_SEARCH = {
    "max_seq_length": 256,
    "num_train_epochs": 1,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "eval_steps": 10,
    "search_space": {
        "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 0.5},
        "lora_r": {"type": "categorical", "choices": [4, 8, 16]},
    },
}


@app.command()
def demo(
    n_trials: Annotated[int, typer.Option("--n-trials", min=1, help="Trials to run.")] = 8,
    no_tui: NoTuiOption = False,
) -> None:
    """Search on the embedded tiny Gemma 3 and synthetic OCR data (built on first use)."""
    from .demo import ensure_demo_assets

    setup = console_setup()
    with user_errors():
        ensure_demo_assets(lambda msg: setup.print(msg, markup=False, highlight=False))
    run_search(
        None,
        {},
        None,
        SearchSettingsGiven(n_trials=n_trials),
        False,
        None,
        set(),
        default_space=DEMO_SEARCH,
        use_tui=_use_tui(no_tui),
        name_prefix="demo",
    )


def _use_tui(no_tui: bool) -> bool:
    """The terminal UI only where a person can see it: both ends of the terminal are a tty."""
    return not no_tui and sys.stdout.isatty() and sys.stdin.isatty()


@app.command()
def watch(
    study: Annotated[str, typer.Argument(help="Name of the study to watch.")],
    storage: StorageOption = None,
) -> None:
    """Watch a study another process is running (read-only: it never writes to the storage)."""
    _watch(study, storage)


def _watch(study: str, storage: str | None) -> None:

    from .store import StudyWatcher
    from .tui import SearchApp
    from .tui.messages import TuiSink

    console_setup()
    sink = TuiSink()
    with user_errors():
        watcher = StudyWatcher(study, storage, sink)
        watcher.poll()  # a study that cannot be read fails here, in one line
    stop = threading.Event()
    SearchApp(lambda _sink: watcher.run(stop, interval=2.0), None, sink=sink, stop_event=stop).run()


cli_results.register(app)  # studies, show, export, plot, report, dashboard


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

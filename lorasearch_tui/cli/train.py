"""`lorasearch train` and `lorasearch merge`: one adapter trained from a fixed config, and an
adapter merged into its base, the two commands that make models rather than search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..errors import ExitCode, UserError
from ..interrupts import stop_on_sigint
from ._shared import ConfigOption, SetOption, StorageOption, say, user_errors


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
    sets: SetOption = None,
) -> None:
    """Train one LoRA adapter with the fixed parameters of a config (no search_space).

    Ctrl+C stops after the current step and still saves what was trained (exit code 130).
    """
    from ..config import load_config
    from ..console import TrainProgress, print_run_result, setup_logging
    from ..training import train_job

    setup_logging()
    console = Console()
    with user_errors():
        loaded = load_config(config, sets=sets)
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
        with (
            TrainProgress(console) as progress,
            stop_on_sigint(progress.request_stop, lambda text: say(console, text)),
        ):
            result = train_job(loaded.params, output_dir, merge=merge, observer=progress)
    print_run_result(result, output_dir, merge, console)
    if result.stopped_at is not None:
        raise typer.Exit(ExitCode.INTERRUPTED)


def merge(
    source: Annotated[
        str,
        typer.Argument(
            help="An adapter folder (a train output, a trial's adapter/), STUDY (its best trial) or STUDY:N.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the merged model.", show_default=False)
    ],
    storage: StorageOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a model already in OUT.")] = False,
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            "--push-to-hub",
            metavar="REPO",
            help="Also upload the merged model to this Hub model repo (owner/name), made when "
            "missing; needs HF_TOKEN with write access.",
            show_default=False,
        ),
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="With --push-to-hub: make a new repo private.")
    ] = False,
) -> None:
    """Merge an adapter into its base model: the base loaded again in 16-bit (never the 4-bit
    weights, whose error the merge would bake in), saved with its processor in the form
    Transformers and vLLM load."""
    from ..console import setup_logging
    from ..hub import check_push, push_folder, with_model
    from ..locate import model_path
    from ..results import find_adapter
    from ..training import merge_adapter

    setup_logging()
    console = Console()
    with user_errors():
        if push_to_hub:
            check_push(push_to_hub)
        elif private:
            raise UserError("--private: only with --push-to-hub REPO (it makes that repo private)")
        adapter, params = find_adapter(source, storage)
        params = with_model(params)
        if (out / "config.json").exists() and not overwrite:
            raise UserError(f"--out: {out} already holds a model; choose another folder or pass --overwrite")
        base = model_path(params.model_name, params.model_revision)
        say(console, f"merging {adapter} into a 16-bit {params.model_name}")
        merge_adapter(adapter, base, params, out)
        say(console, f"wrote {out}")
        if push_to_hub:
            say(console, f"uploading {out} to {push_to_hub}")
            say(console, f"pushed: {push_folder(out, push_to_hub, private)}")

"""`lorasearch evaluate`: is the winner real? The best trials and the base model scored on more
records, with intervals (the engine is `lorasearch_tui.evaluation`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from ..choices import EvaluateSplit
from ..errors import ExitCode
from ..interrupts import terminate_as_interrupt
from ._shared import StorageOption, say, user_errors


def evaluate(
    source: Annotated[
        str,
        typer.Argument(
            help="A study (its best trials) or an adapter folder (a train output, a trial's adapter/).",
            show_default=False,
        ),
    ],
    split: Annotated[
        EvaluateSplit,
        typer.Option(
            "--split",
            help="val: re-rank the best trials on the val records and confirm one; test: score the "
            "confirmed trial (else the best) on the held-out test_split, once the choice is made.",
        ),
    ] = "val",
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            min=1,
            help="The K best complete trials (default: 3 on val; on test the confirmed one).",
            show_default=False,
        ),
    ] = None,
    trial: Annotated[
        int | None,
        typer.Option("--trial", min=0, help="Only trial N (and the base model).", show_default=False),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            min=1,
            help="Only the first N records of the split (default: all).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Records generated at once.")] = 8,
    no_early_stop: Annotated[
        bool,
        typer.Option(
            "--no-early-stop",
            help="On val, generate every record for every trial, even one already significantly worse "
            "than the leader (a Wilcoxon test after each batch).",
        ),
    ] = False,
    gpu: Annotated[
        str | None,
        typer.Option(
            "--gpu",
            help="The GPU to generate on, as --gpus of search takes it (its nvidia-smi number, or its place "
            "in CUDA_VISIBLE_DEVICES). [default: the first GPU, else the CPU]",
            show_default=False,
        ),
    ] = None,
    storage: StorageOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON, for scripts.")] = False,
) -> None:
    """Score the best trials and the base model without an adapter: CER, WER, exact match and
    character F1, each with a 95% bootstrap interval, and paired differences that say whether
    two rows differ beyond the records' noise. Generations go beside each adapter
    ({split}_generations.jsonl); a killed evaluate resumes from them."""
    from ..console import EvaluateProgress, setup_logging
    from ..evaluation import Request
    from ..evaluation import evaluate as run_evaluate

    setup_logging()
    console = Console(stderr=as_json)
    request = Request(
        source=source,
        storage=storage,
        split=split,
        top=top,
        trial=trial,
        samples=samples,
        batch_size=batch_size,
        early_stop=not no_early_stop,
        gpu=gpu,
    )
    with user_errors(), terminate_as_interrupt():
        try:
            with EvaluateProgress(console) as bar:
                done = run_evaluate(request, bar.update)
        except KeyboardInterrupt:
            say(console, "evaluate stopped; the answers generated so far are kept: run it again to resume")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    if as_json:
        print(json.dumps(done.summary, indent=2, allow_nan=False))
        return
    from ..report import evaluation_view

    console.print(evaluation_view(done.summary))
    say(console, f"wrote {done.file}")
    if done.confirmed_config is not None:
        say(
            console,
            f"confirmed: {done.summary['best']}, config {done.confirmed_config}; score it on the held-out "
            f"records with: lorasearch evaluate {source} --split test",
        )

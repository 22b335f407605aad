"""The search commands: `search`, `demo`, `watch`, and the home screen (`lorasearch` alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..choices import Pruner, SearchMode
from ..errors import ExitCode
from ..options import SearchOptions
from ._run import run_search
from ._shared import NoTuiOption, SetOption, StorageOption, console_setup, use_tui, user_errors

DEFAULTS = SearchOptions("")  # the flags' defaults, set once in `SearchOptions`

# The search without --config: the specification's default space over the default parameters.
DEFAULT_SEARCH = {
    "search_space": {
        "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 5e-4},
        "num_train_epochs": {"type": "int", "low": 2, "high": 5},
    }
}


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
        typer.Option(
            "--n-trials",
            min=1,
            help=f"Trials the study should hold (grid: all). [default: {DEFAULTS.n_trials}]",
        ),
    ] = None,
    search_mode: Annotated[
        SearchMode | None,
        typer.Option(
            "--search-mode",
            help="bayesian (TPE), random, grid, gp (Gaussian process) or nsga2 (genetic, for several "
            f"objectives). [default: {DEFAULTS.mode}]",
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Start no new trial after this many seconds.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an existing study.")] = False,
    join: Annotated[
        bool,
        typer.Option(
            "--join",
            help="Create the study, or continue it if it exists (its config must match): the same "
            "command for every runner, even started in the same second (Slurm arrays, Kubernetes).",
        ),
    ] = False,
    enqueue: Annotated[
        Path | None,
        typer.Option(
            "--enqueue",
            help="Run these known parameter sets first: a JSON/YAML list of sets, or an earlier "
            "study's best_params or best_config file. Each must fit the search space; a set the "
            "study already holds is not run again.",
            show_default=False,
        ),
    ] = None,
    warm_start_from: Annotated[
        str | None,
        typer.Option(
            "--warm-start-from",
            metavar="STUDY[@STORAGE_URL]",
            help="Add an earlier study's complete and pruned trials that fit this search space as "
            "measured: the sampler starts from them. Marked 'imported', never counted toward "
            "--n-trials, never best. Same objective required. STUDY alone: in this search's storage.",
            show_default=False,
        ),
    ] = None,
    enqueue_top: Annotated[
        int,
        typer.Option(
            "--enqueue-top",
            min=0,
            metavar="K",
            help="With --warm-start-from: run that study's K best trials' parameters here first "
            "(on this config's data), marked 'enqueued'.",
        ),
    ] = 0,
    max_trials_here: Annotated[
        int | None,
        typer.Option(
            "--max-trials-here",
            min=1,
            help="This runner finishes at most this many trials, then exits 0 (the study may go on "
            "with other runners). [default: no limit]",
            show_default=False,
        ),
    ] = None,
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
    ] = DEFAULTS.stall_limit,
    max_failures_in_a_row: Annotated[
        int,
        typer.Option(
            "--max-failures-in-a-row",
            min=0,
            help="Stop the search (exit 1) when this many trials in a row fail the same way; "
            "--resume runs them again. 0: never stop.",
        ),
    ] = DEFAULTS.max_failures_in_a_row,
    pruner: Annotated[
        Pruner | None,
        typer.Option("--pruner", help=f"Stops unpromising trials early. [default: {DEFAULTS.pruner}]"),
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
    ] = DEFAULTS.trials_per_gpu,
    artifacts: Annotated[
        str | None,
        typer.Option(
            "--artifacts",
            envvar="LORASEARCH_ARTIFACTS",
            show_envvar=True,
            metavar="URL",
            help="A store every host reaches, file:///PATH or s3://BUCKET[/PREFIX] (boto3; "
            "credentials from its environment): each complete trial's adapter is uploaded there, "
            "and merge/train/evaluate fetch it on a host without the trial's folder. Kept in the study.",
            show_default=False,
        ),
    ] = None,
    checkpoint_every: Annotated[
        int,
        typer.Option(
            "--checkpoint-every",
            min=0,
            metavar="N",
            help="Each trial keeps a checkpoint of its last N-th step (adapter, optimizer, data "
            "position); a trial whose runner is lost (killed, preempted, out of time) is rerun from "
            "there, on any host that sees its folder, instead of from step 0. 0: none.",
        ),
    ] = DEFAULTS.checkpoint_every,
    lost_after: Annotated[
        float,
        typer.Option(
            "--lost-after",
            min=1,
            help="A running trial whose runner (this search or another one sharing the study) has "
            "not renewed its lease for this many seconds is recorded lost, and its params run again.",
        ),
    ] = DEFAULTS.lost_after,
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
    confirm_top: Annotated[
        int | None,
        typer.Option(
            "--confirm-top",
            min=1,
            help="When the search ends: re-rank its K best trials on every val record (lorasearch "
            "evaluate), write the winner's config, and score it on the config's test_split.",
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
    flags = {"mode": search_mode, "pruner": pruner, "n_trials": n_trials, "trial_timeout": trial_timeout}
    options = SearchOptions(
        study_name=study_name or "",
        n_trials=n_trials if n_trials is not None else DEFAULTS.n_trials,
        mode=search_mode or DEFAULTS.mode,
        pruner=pruner or DEFAULTS.pruner,
        timeout=timeout,
        resume=resume,
        join=join,
        max_trials_here=max_trials_here,
        enqueue=str(enqueue) if enqueue is not None else None,
        warm_start_from=warm_start_from,
        enqueue_top=enqueue_top,
        storage=storage,
        given=frozenset(k for k, v in flags.items() if v is not None),
        trial_timeout=trial_timeout,
        stall_limit=stall_limit,
        max_failures_in_a_row=max_failures_in_a_row,
        gpus=gpus,
        workers=workers,
        trials_per_gpu=trials_per_gpu,
        lost_after=lost_after,
        artifacts=artifacts,
        checkpoint_every=checkpoint_every,
        recycle_every=recycle_every,
        recycle_above=recycle_above,
    )
    run_search(
        options, config, overrides, DEFAULT_SEARCH, use_tui(no_tui), sets=sets or [], confirm_top=confirm_top
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


def demo(
    n_trials: Annotated[int, typer.Option("--n-trials", min=1, help="Trials to run.")] = 8,
    no_tui: NoTuiOption = False,
) -> None:
    """Search on the embedded tiny Gemma 3 and synthetic OCR data (built on first use)."""
    from ..demo import ensure_demo_assets

    setup = console_setup()
    with user_errors():
        ensure_demo_assets(lambda msg: setup.print(msg, markup=False, highlight=False))
    options = SearchOptions(study_name="", n_trials=n_trials)
    run_search(options, None, {}, DEMO_SEARCH, use_tui(no_tui), name_prefix="demo")


def watch(
    study: Annotated[str, typer.Argument(help="Name of the study to watch.")],
    storage: StorageOption = None,
) -> None:
    """Watch a study another process is running (read-only: it never writes to the storage)."""
    watch_study(study, storage)


def watch_study(study: str, storage: str | None) -> None:
    """The terminal UI over a study another process writes, polled every 2 s."""
    from ..store import StudyWatcher
    from ..tui import SearchApp
    from ..tui.messages import TuiSink

    console_setup()
    sink = TuiSink()
    with user_errors():
        watcher = StudyWatcher(study, storage, sink)
        watcher.poll()  # a study that cannot be read fails here, in one line
    SearchApp.for_watch(watcher, sink).run()


def home() -> None:
    """The home screen, and what it was asked to do; back to it when that ends."""
    from ..tui import HomeApp
    from ._home import HomeStudies

    source = HomeStudies()
    while True:
        choice = HomeApp(source).run()
        if choice is None:
            return
        url = source.storage_of(choice.study) if choice.study else None
        try:
            if choice.action == "watch":
                watch_study(choice.study, url)
            elif choice.action == "resume":
                # extending a finished study: a resume with a larger --n-trials, given as such
                given = frozenset({"n_trials"} if choice.n_trials else ())
                options = SearchOptions(
                    choice.study,
                    n_trials=choice.n_trials or DEFAULTS.n_trials,
                    resume=True,
                    storage=url,
                    given=given,
                )
                run_search(options, None, {}, DEFAULT_SEARCH, True)
            else:
                run_search(SearchOptions(""), choice.config, {}, DEFAULT_SEARCH, True)
        except typer.Exit as stop:  # a search that ended badly said why on stderr
            if stop.exit_code == ExitCode.INTERRUPTED:
                raise


def proxy(
    storage: StorageOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on: 0.0.0.0 for every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 13000,
) -> None:
    """Serve a study storage to many runners through Optuna's gRPC proxy (pip install
    'lorasearch-tui[grpc]'): they give `--storage grpc://HOST:PORT`, and the database sees this
    one process instead of two connections per runner. Run it beside the database; Ctrl+C
    stops it."""
    from ..errors import UserError
    from ..store import mask_password, open_storage, serve_proxy

    with user_errors():
        if not storage:
            raise UserError("--storage: give the database the proxy serves (or set LORASEARCH_STORAGE)")
        if storage.startswith("grpc:"):
            raise UserError("--storage: a proxy serves a database, not another proxy")
        try:
            import grpc  # noqa: F401
        except ImportError:
            raise UserError("the gRPC proxy needs grpcio: pip install 'lorasearch-tui[grpc]'") from None
        served = open_storage(storage)
    print(f"serving {mask_password(storage)} at grpc://{host}:{port}; Ctrl+C stops it", flush=True)
    try:
        serve_proxy(served, host, port)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None

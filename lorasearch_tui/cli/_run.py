"""Running a search from the command line: `search`, `demo` and the home screen share it.

The config (or the stored one on `--resume`), the signals, the front end (the terminal UI in a
terminal, the headless console elsewhere), the result files' lines, the report page at the end,
and the exit code. A hung-up terminal ends the process once the running trials are recorded.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import ExitCode, UserError
from ..interrupts import interrupt_on_signals, on_terminal_gone, terminate_as_interrupt
from ..options import SearchOptions
from ._shared import console_setup, fail, say, user_errors

if TYPE_CHECKING:
    from rich.console import Console

    from ..config import SearchConfig
    from ..events import SearchControls, SearchFinished

HANGUP_GRACE_S = 600  # how long a hung-up TUI search waits for its trial to be recorded


def run_search(
    options: SearchOptions,
    config_path: Path | None,
    overrides: dict[str, Any],
    default_space: dict[str, Any],
    use_tui: bool,
    name_prefix: str = "lorasearch",
    sets: list[str] | None = None,
    confirm_top: int | None = None,
) -> None:
    """The part of `search` and `demo` that is the same: config, signals, console, exit code.

    Args:
        confirm_top: once the search ends (not on a failure or Ctrl+C), re-rank its K best
            trials on all val records and score the confirmed one on the test split
            (`lorasearch evaluate`).
    """
    from datetime import datetime

    from ..events import SearchControls

    console = console_setup()
    with user_errors():
        loaded = _config(options, config_path, overrides, default_space, sets)
        name = options.study_name or f"{name_prefix}_{datetime.now():%Y%m%d_%H%M%S}"
        options = replace(options, study_name=name)
        controls = SearchControls()
        if use_tui:
            finished, code = _in_the_tui(loaded, options, controls)
        else:
            finished, code = _headless(loaded, options, controls, console)
    _say_what_was_written(console, name)
    if finished is not None and finished.counts and sum(finished.counts.values()):
        _write_report(console, name, options.storage)
    if finished is not None and finished.reason == "failed":
        raise fail(finished.message or "the search failed", ExitCode.BUG)
    if code:
        raise typer.Exit(code)
    if confirm_top and finished is not None and finished.reason == "done here":
        # other runners are still at work on the study: every task confirming it would
        # evaluate a study that is not done, each writing the same files
        later = f"once it is done: lorasearch evaluate {name}"
        say(console, f"--confirm-top: the study goes on with other runners; {later}")
    elif confirm_top and finished is not None and finished.counts.get("complete"):
        confirm(console, name, options.storage, confirm_top)


def confirm(console: Console, study: str, storage: str | None, top: int) -> None:
    """`lorasearch evaluate STUDY --top K`, then `--split test` on the confirmed trial when the
    config holds out test records: the search's answer checked on more data, then on data it
    never saw."""
    from ..console import EvaluateProgress
    from ..evaluation import Request, evaluate
    from ..report import evaluation_view

    with user_errors(), terminate_as_interrupt():
        try:
            for split in ("val", "test"):
                request = Request(
                    source=study, storage=storage, split=split, top=top if split == "val" else None
                )
                if split == "test" and not _holds_out(study, storage):
                    say(
                        console,
                        "no test_split or test_data in the config: the confirmed trial was not scored on "
                        "held-out records",
                    )
                    break
                what = (
                    f"the {top} best trials on the val"
                    if split == "val"
                    else "the confirmed trial on the test"
                )
                say(console, f"confirming: {what} records")
                with EvaluateProgress(console) as bar:
                    done = evaluate(request, bar.update)
                console.print(evaluation_view(done.summary))
                say(console, f"wrote {done.file}")
                if done.confirmed_config is not None:
                    say(console, f"confirmed: {done.summary['best']}, config {done.confirmed_config}")
        except KeyboardInterrupt:
            say(console, f"confirming stopped; resume it with: lorasearch evaluate {study} --top {top}")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    _write_report(console, study, storage)  # again, with the evaluation in it


def _holds_out(study: str, storage: str | None) -> bool:
    from ..results import open_existing, stored_config

    params = stored_config(open_existing(study, storage)).params
    return params.test_data is not None or params.test_split is not None


def _config(
    options: SearchOptions,
    config_path: Path | None,
    overrides: dict[str, Any],
    default_space: dict[str, Any],
    sets: list[str] | None,
) -> SearchConfig | None:
    """The config to search: the file's, the default one, or None to resume with the stored one.

    Raises:
        UserError: a bad config, or `--resume` asked to change what a study keeps.
    """
    from ..config import apply_sets, load_config, parse_config

    if options.resume and options.join:
        raise UserError("--join: it already continues an existing study; give --join or --resume, not both")
    if options.join and not options.study_name:
        raise UserError("--join: name the study that every runner shares with --study-name")
    if options.enqueue_top and not options.warm_start_from:
        raise UserError("--enqueue-top: name the study whose best trials to run first with --warm-start-from")
    if options.resume and not options.study_name:
        raise UserError("--resume: name the study to continue with --study-name")
    if options.resume and config_path is None:
        if any(v is not None for v in overrides.values()) or sets:
            raise UserError(
                "--resume: a resumed study keeps its stored config; overrides apply to new studies"
            )
        return None
    if config_path is None:
        raw = {**default_space, **{k: v for k, v in overrides.items() if v is not None}}
        return parse_config(apply_sets(raw, sets) if sets else raw, "<default search>")
    return load_config(config_path, overrides, sets)


def _in_the_tui(
    loaded: SearchConfig | None, options: SearchOptions, controls: SearchControls
) -> tuple[SearchFinished | None, int]:
    """The search under the terminal UI: how it finished, and the exit code the app chose."""
    from ..search import SearchRunner
    from ..tui import SearchApp
    from ..tui.messages import TuiSink

    sink = TuiSink()
    runner = SearchRunner(loaded, options, sink, controls)
    engine_done = threading.Event()
    app = SearchApp.for_search(runner, controls, sink, done=engine_done)

    def hung_up(signum: int) -> None:
        # The terminal is gone: Textual can neither draw nor close the screen, and its
        # main loop may wait forever on a writer that died. The engine runs in its own
        # thread: let it record the trial and write the files, then end here. An engine
        # not started yet never will (the loop that would start it waits here): nothing to
        # record.
        controls.interrupt()
        if app.engine_started.is_set():
            engine_done.wait(HANGUP_GRACE_S)
        os._exit(ExitCode.INTERRUPTED)

    on_terminal_gone(hung_up)  # in case no SIGHUP comes (a shell that does not pass it on)
    with interrupt_on_signals(controls.interrupt, hung_up):
        app.run()
    if app.refused is not None:  # a bad storage, data or resume: its one line, exit 2
        raise app.refused
    return app.state.finished, app.return_code or 0


def _headless(
    loaded: SearchConfig | None, options: SearchOptions, controls: SearchControls, console: Console
) -> tuple[SearchFinished, int]:
    """The search on the plain console: how it finished, and its exit code."""
    from ..console import SearchConsole
    from ..search import SearchRunner

    hangups: list[int] = []
    with SearchConsole(console) as headless, interrupt_on_signals(controls.interrupt, hangups.append):
        finished = SearchRunner(loaded, options, headless, controls).run()
    if hangups:  # nobody is left to read what would follow, and writing it would fail
        os._exit(ExitCode.INTERRUPTED)
    return finished, ExitCode.INTERRUPTED if finished.reason == "interrupted" else ExitCode.OK


def _say_what_was_written(console: Console, name: str) -> None:
    """The result files' lines: the best files, and a config per trial of a Pareto front."""
    from ..store import RESULTS_DIR, best_files

    for path in best_files(name):
        if path.exists():
            say(console, f"wrote {path}")
    front = sorted(RESULTS_DIR.glob(f"{name}_pareto_trial_*_config.json"))
    if front:  # several objectives: a trainable config per trial of the Pareto front
        plural = "s" if len(front) > 1 else ""
        say(console, f"wrote {len(front)} Pareto config{plural}: {', '.join(map(str, front))}")


def _write_report(console: Console, name: str, storage: str | None) -> None:
    """The study's report page, at the end of every search; a search is never failed for it."""
    import logging

    from ..report import write_report
    from ..results import look
    from ..store import report_file

    path = report_file(name)
    try:
        write_report(look(name, storage), path)
    except Exception as exc:  # noqa: BLE001 - a picture must not turn a finished search into an error
        logging.getLogger("lorasearch").warning("could not write %s: %s", path, exc)
        return
    say(console, f"wrote {path}")

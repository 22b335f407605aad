"""Finishing what a dead runner left behind: at `--resume`, and whenever a runner of a shared
study finds a trial whose lease has run out (see `_lease.py`).

- A lost RUNNING trial whose `trial_results.json` holds its result is told from that file:
  the process that trained it wrote the file but could not tell the storage (it stayed locked
  longer than the patience, or the process died in between). Nothing trained is lost.
- Any other lost RUNNING trial is recorded FAIL `runner lost (host H, pid P)`. A RUNNING trial
  whose runner lives (on any host) is left alone.
- A finished trial of this host whose `trial_results.json` is missing (the disk was full) gets it again,
  written from the study and the trial's `metrics.jsonl`.
- The parameters of interrupted trials, and of the trials a spent failure budget stopped
  (the study's `lorasearch_rerun`), are queued to run again first, once each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import SearchConfig
from ..events import TrialOutcome
from ._files import trial_dir
from ._lease import LEASE_ATTR
from ._outcomes import INTERRUPTED, TRIAL_RESULTS, outcome_of, read_trial_results, tell, write_trial_results
from ._study import RERUN_ATTR, must_rerun

_log = logging.getLogger("lorasearch.search")


def recover(
    study: Any,
    config: SearchConfig,
    lost: Callable[[Any], str | None],
    mine: frozenset[int] = frozenset(),
    host: str | None = None,
) -> list[int]:
    """Record the trials whose runner is gone, rewrite missing result files, queue reruns.

    Args:
        lost: why a RUNNING trial's runner is gone, or None while it lives (see `_lease`).
        mine: the trials this runner is running (never judged).
        host: this runner's host, to write the missing `trial_results.json` of the finished
            trials run here (after a full disk); None skips that (the search loop's calls).

    Returns:
        The numbers of the trials whose parameters were queued to run again.
    """
    import optuna
    from optuna.trial import TrialState

    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if frozen.number in mine:
            continue
        why = lost(frozen)
        if why is None:
            continue
        folder = Path(
            frozen.user_attrs.get("trial_dir") or trial_dir(config, study.study_name, frozen.number)
        )
        outcome = read_trial_results(folder / TRIAL_RESULTS)
        fresh = outcome is None or outcome.number != frozen.number or outcome.params != frozen.params
        if fresh:
            outcome = TrialOutcome(
                number=frozen.number,
                state="FAIL",
                params=dict(frozen.params),
                derived=config.derived(dict(frozen.params)),
                trial_dir=str(folder),
                fail_reason=why,
                rerun_of=frozen.user_attrs.get("rerun_of"),
                interrupted=True,
            )
            _log.warning("trial %d: %s; its parameters run again", frozen.number, why)
        else:
            _log.info("trial %d: recorded from %s", frozen.number, folder / TRIAL_RESULTS)
        assert outcome is not None
        try:
            tell(outcome, study, optuna.trial.Trial(study, frozen._trial_id))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another runner recorded it a moment ago
        if fresh and folder.parent.is_dir():  # not when the trial ran on another host's disk
            write_trial_results(outcome, _config_of(config, frozen.params))

    for frozen in study.get_trials(deepcopy=False) if host is not None else ():
        folder = frozen.user_attrs.get("trial_dir")
        lease = frozen.user_attrs.get(LEASE_ATTR)
        if isinstance(lease, dict) and lease.get("host") != host:
            continue  # another host's trial: its folder is on that host's disk, not ours
        if frozen.state.is_finished() and folder and not (Path(folder) / TRIAL_RESULTS).exists():
            outcome = outcome_of(frozen, config.params.goals[0].metric)
            write_trial_results(outcome, _config_of(config, frozen.params))
            _log.info("trial %d: wrote %s again from the study", frozen.number, Path(folder) / TRIAL_RESULTS)

    return queue_reruns(study)


def queue_reruns(study: Any) -> list[int]:
    """Queue the parameters of every interrupted trial (and of those the failure budget
    stopped) that nothing runs again yet: the next trial any runner asks for runs them. The
    numbers queued. (A runner stopped by Ctrl+C or a signal queues its own trials as it leaves:
    `queue_rerun`, before it records them.)"""
    trials = study.get_trials(deepcopy=False)
    rerun_list = set(study.user_attrs.get(RERUN_ATTR, []))
    # A finished trial cannot be changed, so "already queued again" is read from the reruns.
    queued = {t.user_attrs.get("rerun_of") for t in trials}
    requeued = []
    for trial in trials:
        if must_rerun(trial, rerun_list) and trial.number not in queued and trial.params:
            queue_rerun(study, trial.number, trial.params)
            requeued.append(trial.number)
    return requeued


def queue_rerun(study: Any, number: int, params: dict[str, Any]) -> None:
    """Queue trial `number`'s parameters to run again first, as trial `rerun_of` it."""
    study.enqueue_trial(dict(params), user_attrs={"rerun_of": number}, skip_if_exists=False)


def _config_of(config: SearchConfig, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return config.with_values(dict(params)).model_dump()
    except ValueError:  # a combination the config's rules refuse (the trial failed for it)
        return {}


__all__ = ["INTERRUPTED", "queue_rerun", "queue_reruns", "recover"]

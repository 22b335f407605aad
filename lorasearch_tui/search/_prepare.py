"""Opening a search before it trains: every check, the study, its sampler and pruner, the
workers' places, the leases, and the trials a dead runner left behind.

`SearchRunner.prepare` calls it; a bad config, data file, model or storage ends there with its
one line and nothing written (the console calls it before drawing any progress; the terminal
UI with its screen up, which it then closes).
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import SearchConfig, describe, describe_pruner, read_sets
from ..data import load_data, with_data
from ..errors import UserError
from ..events import SearchStarted
from ..hub import with_model
from ..store import (
    ARTIFACTS_ATTR,
    ENQUEUED_ATTR,
    FAULT_ATTR,
    SETTINGS_ATTR,
    Leases,
    SearchSettings,
    WarmStart,
    add_imported,
    check_artifacts_url,
    check_study_name,
    default_storage,
    describe_sampler,
    done_count,
    live_runners,
    mask_password,
    objective_facts,
    open_study,
    queue_known,
    read_warm_start,
    recover,
    trial_counts,
)
from ._placement import Placement, plan_workers
from ._preflight import check_folders, fault_injection, preflight
from ._samplers import make_pruner, make_sampler


@dataclass
class Prepared:
    """A search ready to run."""

    study: Any
    storage: str  # the URL (may hold a password: never printed as it is)
    settings: SearchSettings  # the stored ones on a resume
    target: int  # the study's size: --n-trials, or a grid's points
    before: dict[str, int]  # the study's counts when this runner joined
    config: SearchConfig  # the stored one on a resume
    placements: list[Placement]
    faults: str | None  # LORASEARCH_INJECT_FAULT when set
    leases: Leases
    created: bool  # this runner made the study (False: resumed, or joined one another made)
    warm_start: str = ""  # what --warm-start-from imported, in one line ("" without it)
    known_sets: str = ""  # what became of the known sets given (enqueue), in one line

    def started(self, worker_logs: list[Path]) -> SearchStarted:
        """The event that opens the search: what it searches, where, on which workers."""
        config, settings = self.config, self.settings
        return SearchStarted(
            study_name=self.study.study_name,
            storage=mask_password(self.storage),
            mode=settings.mode,
            pruner=describe_pruner(settings.pruner, config.pruner),
            n_trials=self.target,
            space={k: describe(v) for k, v in config.space.items()},
            fixed={k: v for k, v in config.params.model_dump().items() if k not in config.space},
            resumed=not self.created,
            trials_done=done_count(self.before),
            fault_injection=self.faults,
            workers=tuple(p.label for p in self.placements),
            worker_logs=tuple(str(log) for log in worker_logs),
            sampler=describe_sampler(settings.mode, self.target),
            warm_start=self.warm_start,
            known_sets=self.known_sets,
            **objective_facts(config),
        )


def pruner_name(options: Any, config: SearchConfig | None) -> str:
    """The pruner a new study runs: `--pruner` when given, else the config's block, else the
    default (median)."""
    if "pruner" in options.given or config is None or config.pruner is None:
        return str(options.pruner)
    return str(config.pruner.type)  # type: ignore[attr-defined]  # every kind has its tag


def open_search(config: SearchConfig | None, options: Any, cancel: threading.Event) -> Prepared:
    """Check everything and open the study, without training.

    Raises:
        UserError: bad config, data, model, storage or resume rules; nothing is written then.
        RunFailure: the storage stayed busy, or the disk is full.
    """
    name = check_study_name(options.study_name)
    placements = plan_workers(options.gpus, options.workers, options.trials_per_gpu)
    faults = fault_injection()
    storage = options.storage or default_storage(name)
    check_artifacts_url(options.artifacts)  # before anything is written
    if not options.resume:
        assert config is not None
        if "trial_timeout" in options.given:
            config = replace(config, trial_timeout=options.trial_timeout)
        # a Hub dataset, then a Hub model: downloaded here, never in a trial; the study stores
        # the commits they resolved to. A broken data file fails before the model's download.
        config = replace(config, params=with_data(config.params))
        load_data(config.params, decode_images=False)
        config = replace(config, params=with_model(config.params))
        preflight(config, options.mode, pruner_name(options, config), name, new=False)

    enqueued: list[dict[str, Any]] = []  # the known sets to run first, checked
    warm: list[WarmStart] = []  # what --warm-start-from gives, read before anything is written

    def check(config: SearchConfig, settings: SearchSettings, new: bool) -> None:
        # With --join, only the runner that creates the study queues the known sets and imports
        # the earlier study: two runners doing it at once could both find a set or a trial absent.
        mine = new or not options.join
        enqueued[:] = list(config.enqueue) if new else []
        warm.clear()  # a --join runner that lost the race to create the study imports nothing
        if options.enqueue and mine:
            enqueued.extend(read_sets(Path(options.enqueue), config.space))
        if options.warm_start_from and mine:
            warm[:] = [
                read_warm_start(options.warm_start_from, config, options.storage, name, options.enqueue_top)
            ]
            enqueued.extend(warm[0].top)
        if (enqueued or warm) and settings.mode == "grid":
            flag = "--warm-start-from" if warm else "enqueue"
            raise UserError(
                f"{flag}: a grid search runs every combination of its space already; "
                "use --search-mode random or bayesian to start from what you know"
            )
        if not new:  # the stored config: its data, model and folders must still be there
            with_data(config.params)  # the stored commits, from the cache or downloaded on this host
            with_model(config.params)
            preflight(config, settings.mode, settings.pruner, name, new=False)
        else:  # seen absent a moment ago: its trial folder must not hold an older study's trials
            check_folders(config, name, new=True)

    settings = SearchSettings(
        options.mode, pruner_name(options, config), options.n_trials, options.trial_timeout
    )
    if config is not None and config.params.multi:
        # Optuna prunes no study of several objectives: stored as such from the start, so that
        # every runner of a --join line reads the settings it gave
        settings = replace(settings, pruner="none")
    study, config, settings, created = open_study(
        name,
        storage,
        options.resume,
        config,
        settings,
        set(options.given),
        check=check,
        cancel=cancel,
        join=options.join,
    )
    if config.params.multi and settings.pruner != "none":
        # Optuna prunes no study of several objectives: say so where the settings are shown
        settings = replace(settings, pruner="none")
        study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
    _remember(study, {FAULT_ATTR: faults, ARTIFACTS_ATTR: _same_artifacts(study, options.artifacts)})
    queued = queue_known(study, enqueued)  # before the sampler proposes anything; never a set it holds
    warm_start = warm[0].said(add_imported(study, warm[0])) if warm else ""
    leases = Leases(study, options.lost_after)
    # A runner that joins others must not draw what they draw: its seed moves with it.
    # Not a grid's: every runner must order the grid alike, so that a point has one number.
    others = [r for r in live_runners(study.user_attrs, time.time()) if r.get("pid") != os.getpid()]
    joins = others and settings.mode != "grid"
    seed = config.params.seed + (zlib.crc32(leases.runner.key.encode()) if joins else 0)
    study.sampler = make_sampler(settings.mode, config.space, seed, len(study.trials), settings.n_trials)
    study.pruner = make_pruner(settings.pruner, config.pruner, config.params.eval_steps)
    recover(study, config, leases.lost, host=leases.runner.host)
    leases.renew([])
    before = trial_counts(study)
    target = config.grid_size() if settings.mode == "grid" else settings.n_trials
    known = _known_sets_line(study, len(enqueued), queued, target, before) if enqueued else ""
    return Prepared(
        study,
        storage,
        settings,
        target or 0,
        before,
        config,
        placements,
        faults,
        leases,
        created,
        warm_start,
        known,
    )


def _same_artifacts(study: Any, url: str | None) -> str | None:
    """The artifact store this runner was given, which must be the study's if it has one: its
    trials' artifacts are found by id in that store alone."""
    stored = study.user_attrs.get(ARTIFACTS_ATTR)
    if url and stored and url != stored:
        raise UserError(
            f"--artifacts: study '{study.study_name}' keeps its artifacts in {stored}; give that "
            f"URL, or none (the study's is used)"
        )
    return url


def _remember(study: Any, attrs: dict[str, Any]) -> None:
    """Keep what this runner was given in the study, where the other runners and the results
    commands read it (the fault injection said aloud, the artifact store's URL); None: nothing."""
    for key, value in attrs.items():
        if value and study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)


def _known_sets_line(study: Any, given: int, queued: int, target: int, counts: dict[str, int]) -> str:
    """What became of the known sets: queued, already in the study, and how many of those
    waiting do not fit in the trials the study still needs (they stay queued for a larger
    --n-trials: nothing is dropped, nothing runs past the target)."""
    from optuna.trial import TrialState

    line = f"{queued} known set{'s' if queued != 1 else ''} queued to run first"
    if given > queued:
        line += f"; {given - queued} in the study already (not queued again)"
    waiting = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if t.user_attrs.get(ENQUEUED_ATTR)
    ]
    room = max(target - done_count(counts) - counts["running"], 0)
    if len(waiting) > room:
        line += (
            f"; {len(waiting) - room} of them beyond --n-trials {target} stay queued "
            "(--resume with a larger --n-trials runs them)"
        )
    return line

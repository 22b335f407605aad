"""Creating, resuming and reading a study: the storage rules and what a study remembers.

A study stores the config it was created with and its settings (mode, pruner, target size),
so `--resume` continues exactly that search. Trials left RUNNING by a process that died are
turned into FAIL (`interrupted`) on resume and their parameters are queued to run again first.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import SearchConfig, parse_config
from ..errors import RunFailure, UserError, printable
from ._outcomes import INTERRUPTED
from ._settings import SearchSettings
from ._storage import first_line, journal_path, mask_password, open_storage, sqlite_path

RESULTS_DIR = Path("optuna_studies")
CONFIG_ATTR = "lorasearch_config"
SETTINGS_ATTR = "lorasearch_settings"
RESUMED_ATTR = "resumed_from"  # a rerun's: {"trial": the lost trial, "step": the checkpoint it went on from}
SURPLUS_ATTR = "lorasearch_surplus"  # a trial created but not run: the study had enough
RERUN_ATTR = "lorasearch_rerun"  # trials stopped by the failure budget, to run again on resume
FAULT_ATTR = "lorasearch_fault_injection"
ENQUEUED_ATTR = "enqueued"  # a trial's: a known set the user queued (TrialOutcome.enqueued)
IMPORTED_ATTR = "imported"  # a trial's: "screen#4", measured in an earlier study (TrialOutcome.imported)
EVALUATION_ATTR = "lorasearch_evaluation"  # what `lorasearch evaluate` measured, per split
JOIN_WAIT_S = 30.0  # how long `--join` waits for a study's creator to store its config


STUDY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
_NAME_RULE = "letters, digits, '-', '_' and '.' (not first), at most 100 characters"


def check_study_name(name: str) -> str:
    """A study name is also a file name (its database, result files, trial folders).

    Raises:
        UserError: the name has a character or length that would escape or break those paths.
    """
    if not STUDY_NAME.fullmatch(name):
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise UserError(f"--study-name: {printable(repr(shown))} is not a valid study name; use {_NAME_RULE}")
    return name


def default_storage(study_name: str) -> str:
    """`sqlite:///optuna_studies/{study}.db` (the search makes the folder when it starts)."""
    return f"sqlite:///{RESULTS_DIR / study_name}.db"


def study_exists(name: str, storage: Any) -> bool:
    """Whether the storage holds the study."""
    return any(s.study_name == name for s in storage.get_all_studies())


def open_study(  # noqa: C901 - the resume rules, one check each (store, outside the cap's scope)
    name: str,
    url: str,
    resume: bool,
    config: SearchConfig | None,
    settings: SearchSettings,
    given: set[str],
    check: Callable[[SearchConfig, SearchSettings, bool], None] = lambda config, settings, new: None,
    cancel: threading.Event | None = None,
    join: bool = False,
) -> tuple[Any, SearchConfig, SearchSettings, bool]:
    """Create a new study or resume one, enforcing the rules of `--resume` (and `--join`).

    Args:
        url: the storage URL (a SQLite file that is not there is created only for a new study).
        config: the config the user gave (None on a resume without `--config`).
        settings: mode, pruner and target as given or defaulted.
        given: which of `mode`, `pruner`, `n_trials`, `trial_timeout` the user gave explicitly.
        check: checks the config in force (data, model, folders) before anything is written,
            told whether the study is new: it raises UserError and the study stays as it was.
        cancel: see `open_storage`.
        join: create the study if it is not there, else continue it as `--resume` does.
            Identical processes started in the same second (a Slurm array, a Kubernetes Job)
            all get the same study: Optuna lets one create it and refuses the others, which
            then continue it, once its creator has stored its config.

    Returns:
        The study, the config it searches, the settings in force, and whether it was created.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    label = mask_password(url)
    db_file = sqlite_path(url) or journal_path(url)
    checked = False
    if db_file is not None and not db_file.is_file():
        if resume:
            raise UserError(f"--resume: no study '{name}' in {label}; drop --resume to start it")
        assert config is not None
        check(config, settings, True)  # before the database file is made: a refusal writes nothing
        checked = True
        db_file.parent.mkdir(parents=True, exist_ok=True)
    storage = open_storage(url, cancel=cancel, creating=join)
    exists = study_exists(name, storage)
    if exists and not (resume or join):
        raise UserError(
            f"study '{name}' already exists in {label}; add --resume to continue it "
            "(--join: create it or continue it)"
        )
    if resume and not exists:
        raise UserError(f"--resume: no study '{name}' in {label}; drop --resume to start it")
    if not exists:
        assert config is not None
        if not checked:
            check(config, settings, True)
        try:
            # each metric's direction: lower CER, higher accuracy, less memory
            goals = [g.goal for g in config.params.goals]
            study = optuna.create_study(study_name=name, storage=storage, directions=goals)
        except optuna.exceptions.DuplicatedStudyError:
            if not join:
                raise UserError(
                    f"study '{name}' was created in {label} by another process a moment ago; "
                    f"add --resume to continue it (--join: create it or continue it)"
                ) from None
        else:
            study.set_user_attr(CONFIG_ATTR, config.to_dict())
            study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
            return study, config, settings, True

    study = optuna.load_study(study_name=name, storage=storage)
    stored_config = _stored_config(study, wait_s=JOIN_WAIT_S if join else 0.0, cancel=cancel)
    if stored_config is None:
        flag = "--join" if join else "--resume"
        raise UserError(f"{flag}: study '{name}' was not made by lorasearch (it stores no config)")
    if config is not None:
        differing = _differing_keys(stored_config, config.to_dict())
        differing = [k for k in differing if not (k == "trial_timeout" and k in given)]
        if differing:
            raise UserError(
                f"--config: study '{name}' was created with a different config ({', '.join(differing)} "
                f"differ); drop --config to continue with the stored one, or start a new study"
            )
    if "trial_timeout" in given:  # the one setting of the stored config a resume may change
        stored_config = {**stored_config, "trial_timeout": settings.trial_timeout}
        if settings.trial_timeout is None:
            del stored_config["trial_timeout"]
    config = parse_config(stored_config, f"study '{name}'")
    stored = study.user_attrs.get(SETTINGS_ATTR, {})
    for key in ("mode", "pruner"):
        if key in given and stored.get(key) not in (None, getattr(settings, key)):
            flag = "--search-mode" if key == "mode" else "--pruner"
            raise UserError(
                f"{flag}: study '{name}' searches with {key} '{stored[key]}'; drop {flag} to resume it"
            )
    settings = SearchSettings(
        mode=stored.get("mode", settings.mode),
        pruner=stored.get("pruner", settings.pruner),
        n_trials=settings.n_trials if "n_trials" in given else stored.get("n_trials", settings.n_trials),
        trial_timeout=config.trial_timeout,
    )
    check(config, settings, False)
    study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
    study.set_user_attr(CONFIG_ATTR, config.to_dict())
    return study, config, settings, False


def _stored_config(study: Any, wait_s: float, cancel: threading.Event | None = None) -> dict[str, Any] | None:
    """The config a lorasearch study stores. A study another `--join` process has just
    created may not hold it yet (Optuna creates the study, then its creator writes the
    config): wait up to `wait_s` for it."""
    deadline = time.monotonic() + wait_s
    while True:
        stored = study.user_attrs.get(CONFIG_ATTR)
        if stored is not None and SETTINGS_ATTR in study.user_attrs:
            return stored
        if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
            return stored
        time.sleep(0.2)


def must_rerun(trial: Any, rerun_list: set[int]) -> bool:
    """An interrupted trial, or one the failure budget stopped: its params run again on resume,
    and it does not count toward the target."""
    return bool(trial.user_attrs.get(INTERRUPTED)) or trial.number in rerun_list


def trial_counts(study: Any, trials: list[Any] | None = None) -> dict[str, int]:
    """complete / pruned / failed; interrupted ones apart (with those the failure budget
    stopped): they run again on resume and do not count toward the target. `trials`: the
    study's trials, when the caller has just read them."""
    from optuna.trial import TrialState

    counts = {"complete": 0, "pruned": 0, "failed": 0, "interrupted": 0, "running": 0}
    rerun_list = set(study.user_attrs.get(RERUN_ATTR, []))
    for trial in study.get_trials(deepcopy=False) if trials is None else trials:
        if is_imported(trial):
            continue  # measured in an earlier study: it guides the sampler, it counts nowhere
        if trial.state == TrialState.COMPLETE:
            counts["complete"] += 1
        elif trial.state == TrialState.PRUNED:
            counts["pruned"] += 1
        elif trial.state == TrialState.FAIL:
            if trial.user_attrs.get(SURPLUS_ATTR):
                continue  # never run: it is no trial of the study's
            counts["interrupted" if must_rerun(trial, rerun_list) else "failed"] += 1
        elif trial.state == TrialState.RUNNING:
            counts["running"] += 1
    return counts


def surplus_reason(study: Any, trial: Any, target: int, grid: bool) -> str | None:
    """Why a trial just asked for must not run, or None.

    Runners that share a study each ask for a trial when they see the study short of its
    target; two may see the same shortfall at once, or (grid) draw the same point. The
    running trials are ranked by number, so every runner reaches the same verdict: the later
    ones give way.
    """
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = trial_counts(study, trials)
    running = sorted(t.number for t in trials if t.state == TrialState.RUNNING)
    if trial.number in running and running.index(trial.number) >= target - done_count(counts):
        return "not run: the study had enough trials running (another runner took the last one)"
    if grid:
        point = study._storage.get_trial_system_attrs(trial._trial_id).get("grid_id")
        rerun_list = set(study.user_attrs.get(RERUN_ATTR, []))
        # Optuna creates a trial, then its sampler writes the trial's grid point: an earlier
        # trial of another runner may not have its point yet. Wait for it (milliseconds).
        for _ in range(100):
            pending = [
                t
                for t in trials
                if t.number < trial.number
                and t.state == TrialState.RUNNING
                and "grid_id" not in t.system_attrs
                and "fixed_params" not in t.system_attrs
            ]
            if not pending:
                break
            time.sleep(0.05)
            trials = study.get_trials(deepcopy=False)
        for other in trials:
            if other.number >= trial.number or other.system_attrs.get("grid_id") != point:
                continue
            if other.state == TrialState.FAIL and (
                other.user_attrs.get(SURPLUS_ATTR) or must_rerun(other, rerun_list)
            ):
                continue  # a trial that did not run, or one whose point runs again
            if other.state != TrialState.WAITING:
                return f"not run: trial {other.number} runs the same grid point"
    return None


def record_surplus(study: Any, trial: Any, why: str) -> None:
    """A trial that will not run: FAIL, marked so that it counts nowhere. A rerun's parameters
    are queued again (someone must still run them)."""
    from optuna.trial import TrialState

    trial.set_user_attr(SURPLUS_ATTR, True)
    trial.set_user_attr("fail_reason", why)
    study.tell(trial, state=TrialState.FAIL)
    rerun_of = trial.user_attrs.get("rerun_of")
    if rerun_of is not None:
        study.enqueue_trial(dict(trial.params), user_attrs={"rerun_of": rerun_of}, skip_if_exists=False)
    elif trial.user_attrs.get(ENQUEUED_ATTR):  # a known set: queued again, or it never runs
        fixed = study._storage.get_trial_system_attrs(trial._trial_id).get("fixed_params", trial.params)
        study.enqueue_trial(dict(fixed), user_attrs={ENQUEUED_ATTR: True}, skip_if_exists=False)


def done_count(counts: dict[str, int]) -> int:
    """Trials that count toward `--n-trials`: every finished one except interrupted ones."""
    return counts["complete"] + counts["pruned"] + counts["failed"]


def is_imported(trial: Any) -> bool:
    """A trial added from an earlier study (`--warm-start-from`): measured there, on its data."""
    return bool(trial.user_attrs.get(IMPORTED_ATTR))


def measured_here(study: Any) -> list[Any]:
    """The COMPLETE trials this study trained: an imported trial's value was measured under
    another config (often another slice of the data), so it is never this study's best."""
    from optuna.trial import TrialState

    return [
        t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE and not is_imported(t)
    ]


def best_trial(study: Any) -> Any | None:
    """The COMPLETE trial with the best value in the study's direction (out-of-memory trials
    are PRUNED, never best; imported ones are not this study's). With several objectives, the
    best in the first one: always a trial of the Pareto front, and the one whose curves and
    value the views show."""
    from optuna.study import StudyDirection

    complete = measured_here(study)
    if not complete:
        return None
    pick = max if study.directions[0] == StudyDirection.MAXIMIZE else min
    return pick(complete, key=lambda t: t.values[0])


def objective_facts(config: SearchConfig) -> dict[str, Any]:
    """What the values of a study mean, for `SearchStarted`: the (first) metric and its
    direction, and every metric with its direction when there are several."""
    goals = config.params.goals
    several = len(goals) > 1
    return {
        "metric": goals[0].metric,
        "direction": goals[0].goal,
        "objectives": tuple(g.metric for g in goals) if several else (),
        "directions": tuple(g.goal for g in goals) if several else (),
    }


def pareto_trials(study: Any) -> list[Any]:
    """The Pareto front of a study of several objectives among the trials it trained, by trial
    number ([] for one objective)."""
    if len(study.directions) == 1:
        return []
    from optuna.study import StudyDirection

    signs = [1 if d == StudyDirection.MINIMIZE else -1 for d in study.directions]
    points = [(t, [s * v for s, v in zip(signs, t.values, strict=True)]) for t in measured_here(study)]

    def dominated(p: list[float]) -> bool:
        return any(all(a <= b for a, b in zip(q, p, strict=True)) and q != p for _, q in points)

    return [t for t, p in sorted(points, key=lambda tp: tp[0].number) if not dominated(p)]


def _differing_keys(stored: dict[str, Any], given: dict[str, Any]) -> list[str]:
    keys = []
    for key in sorted(set(stored) | set(given)):
        if key == "search_space":
            a, b = stored.get(key, {}), given.get(key, {})
            keys += [f"search_space.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif stored.get(key) != given.get(key):
            keys.append(key)
    return keys


def open_existing(study_name: str, storage: str | None = None, writable: bool = False) -> Any:
    """The Optuna study `study_name` in `storage` (default: its own SQLite file), opened
    read-only where the storage allows (SQLite refuses every write then), unless `writable`
    (`evaluate` stores its scores in the study)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_study_name(study_name)
    url = storage or default_storage(study_name)
    label = mask_password(url)
    file = sqlite_path(url)
    if storage is None and file is not None and not file.exists():
        raise UserError(
            f"no study '{study_name}': {file} does not exist; `lorasearch studies` lists the studies here"
            " (--storage for another storage)"
        )
    opened = open_storage(url, read_only=not writable)
    try:
        exists = study_exists(study_name, opened)
    except (UserError, RunFailure):
        raise
    except Exception as exc:  # a file that is no Optuna storage (no tables, not SQLite)
        raise UserError(f"--storage: {label} holds no Optuna studies ({first_line(exc)})") from None
    if not exists:
        raise UserError(
            f"no study '{study_name}' in {label}; `lorasearch studies` lists them (--storage for another)"
        )
    return optuna.load_study(study_name=study_name, storage=opened)

"""Creating, resuming and reading a study: the storage rules and what a study remembers.

A study stores the config it was created with and its settings (mode, pruner, target size),
so `--resume` continues exactly that search. Trials left RUNNING by a process that died are
turned into FAIL (`interrupted`) on resume and their parameters are queued to run again first.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import SearchConfig, parse_config
from ..errors import UserError

RESULTS_DIR = Path("optuna_studies")
CONFIG_ATTR = "lorasearch_config"
SETTINGS_ATTR = "lorasearch_settings"
OWNER_ATTR = "lorasearch_owner"
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class SearchSettings:
    """How a study searches; stored in it so a resume keeps them."""

    mode: str
    pruner: str
    n_trials: int

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "pruner": self.pruner, "n_trials": self.n_trials}


def default_storage(study_name: str) -> str:
    """`sqlite:///optuna_studies/{study}.db` (the search makes the folder when it starts)."""
    return f"sqlite:///{RESULTS_DIR / study_name}.db"


def mask_password(url: str) -> str:
    """The URL with any password replaced by `***` (`postgresql://u:***@host/db`)."""
    return re.sub(r"(//[^/:@]+:)[^@/]*@", r"\1***@", url)


def study_exists(name: str, storage: str) -> bool:
    """Whether the storage holds the study; a SQLite file that is not there is not created."""
    import optuna

    if storage.startswith("sqlite:///") and not Path(storage.removeprefix("sqlite:///")).exists():
        return False

    try:
        summaries = optuna.study.get_all_study_summaries(storage=storage)
    except Exception as exc:  # an unreachable database or a bad URL is the user's to fix
        raise UserError(f"--storage: cannot open {mask_password(storage)}: {_short(exc)}") from None
    return any(s.study_name == name for s in summaries)


def open_study(
    name: str,
    storage: str,
    resume: bool,
    config: SearchConfig | None,
    settings: SearchSettings,
    given: set[str],
) -> tuple[Any, SearchConfig, SearchSettings]:
    """Create a new study or resume one, enforcing the rules of `--resume`.

    Args:
        config: the config the user gave (None on a resume without `--config`).
        settings: mode, pruner and target as given or defaulted.
        given: which of `mode`, `pruner`, `n_trials` the user gave explicitly.

    Returns:
        The study, the config it searches, the settings in force.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    exists = study_exists(name, storage)
    if exists and not resume:
        raise UserError(
            f"study '{name}' already exists in {mask_password(storage)}; add --resume to continue it"
        )
    if resume and not exists:
        raise UserError(f"--resume: no study '{name}' in {mask_password(storage)}; drop --resume to start it")
    if not exists:
        assert config is not None
        study = optuna.create_study(study_name=name, storage=storage, direction="minimize")
        study.set_user_attr(CONFIG_ATTR, config.to_dict())
        study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
        _claim(study)
        return study, config, settings

    study = optuna.load_study(study_name=name, storage=storage)
    stored_config = study.user_attrs.get(CONFIG_ATTR)
    if stored_config is None:
        raise UserError(f"--resume: study '{name}' was not made by lorasearch (it stores no config)")
    if config is not None:
        differing = _differing_keys(stored_config, config.to_dict())
        if differing:
            raise UserError(
                f"--config: study '{name}' was created with a different config ({', '.join(differing)} "
                f"differ); drop --config to continue with the stored one, or start a new study"
            )
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
    )
    study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
    _claim(study)
    return study, config, settings


def _claim(study: Any) -> None:
    """Refuse a study another live process is running; then record this process as its owner."""
    owner = study.user_attrs.get(OWNER_ATTR)
    if owner and owner.get("host") == socket.gethostname() and owner.get("pid") != os.getpid():
        if _pid_alive(owner["pid"]):
            raise UserError(
                f"study '{study.study_name}' is being run by process {owner['pid']}; "
                f"watch it with lorasearch watch, or stop that process first"
            )
    study.set_user_attr(OWNER_ATTR, {"host": socket.gethostname(), "pid": os.getpid()})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers signal 0; it is dead for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def recover_interrupted(study: Any) -> list[int]:
    """Mark stale RUNNING trials FAIL (`interrupted`) and queue every interrupted trial's
    parameters to run again, once. Returns the numbers of the trials queued again."""
    from optuna.trial import TrialState

    storage = study._storage
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.RUNNING:
            storage.set_trial_user_attr(
                trial._trial_id, "fail_reason", "interrupted (the search process died)"
            )
            storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    # A finished trial cannot be changed, so "already queued again" is read from the reruns.
    rerun = {t.user_attrs.get("rerun_of") for t in trials}
    requeued = []
    for trial in trials:
        if trial.user_attrs.get(INTERRUPTED) and trial.number not in rerun and trial.params:
            study.enqueue_trial(trial.params, user_attrs={"rerun_of": trial.number}, skip_if_exists=False)
            requeued.append(trial.number)
    return requeued


def trial_counts(study: Any) -> dict[str, int]:
    """complete / pruned / failed (interrupted ones apart: they do not count toward the target)."""
    from optuna.trial import TrialState

    counts = {"complete": 0, "pruned": 0, "failed": 0, "interrupted": 0, "running": 0}
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.COMPLETE:
            counts["complete"] += 1
        elif trial.state == TrialState.PRUNED:
            counts["pruned"] += 1
        elif trial.state == TrialState.FAIL:
            counts["interrupted" if trial.user_attrs.get(INTERRUPTED) else "failed"] += 1
        elif trial.state == TrialState.RUNNING:
            counts["running"] += 1
    return counts


def done_count(counts: dict[str, int]) -> int:
    """Trials that count toward `--n-trials`: every finished one except interrupted ones."""
    return counts["complete"] + counts["pruned"] + counts["failed"]


def best_trial(study: Any) -> Any | None:
    """The COMPLETE trial with the lowest value (out-of-memory trials are PRUNED, never best)."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    return min(complete, key=lambda t: t.value) if complete else None


def _differing_keys(stored: dict[str, Any], given: dict[str, Any]) -> list[str]:
    keys = []
    for key in sorted(set(stored) | set(given)):
        if key == "search_space":
            a, b = stored.get(key, {}), given.get(key, {})
            keys += [f"search_space.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif stored.get(key) != given.get(key):
            keys.append(key)
    return keys


def _short(exc: Exception) -> str:
    return mask_password(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

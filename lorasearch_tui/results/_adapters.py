"""Which adapter a user means, and the parameters it was trained with: `lorasearch merge`'s
SOURCE. An adapter folder (a `lorasearch train` output, or a trial's `adapter/`), `STUDY` (its
best trial) or `STUDY:N` (trial N). The parameters come from beside the adapter
(`lorasearch_config.json` of a train output, the trial's `trial_results.json`) or from the
study (its stored config with the trial's values put in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import TrainParams
from ..errors import UserError
from ..store import (
    ARTIFACTS_ATTR,
    IMPORTED_ATTR,
    TRIAL_RESULTS,
    best_trial,
    fetch_adapter,
    first_line,
    open_existing,
)
from ._open import stored_config

ADAPTER_CONFIG = "adapter_config.json"
TRAIN_CONFIG = "lorasearch_config.json"  # what `lorasearch train` writes beside its adapter


def find_adapter(source: str, storage: str | None = None) -> tuple[Path, TrainParams]:
    """The adapter folder and its training parameters.

    Raises:
        UserError: no such folder, study or trial; the trial has no adapter (pruned, failed,
            or trained on another host); no parameters beside a bare adapter folder.
    """
    folder = Path(source).expanduser()
    if folder.is_dir():
        return _from_folder(folder)
    name, _, number = source.partition(":")
    if number and not number.isdigit():
        raise UserError(f"SOURCE: {source!r} is neither a folder nor STUDY or STUDY:N")
    study = open_existing(name, storage)
    if number:
        trial = next((t for t in study.get_trials(deepcopy=False) if t.number == int(number)), None)
        if trial is None:
            raise UserError(f"SOURCE: study '{name}' has no trial {number}")
    else:
        trial = best_trial(study)
        if trial is None:
            raise UserError(f"SOURCE: study '{name}' has no COMPLETE trial yet")
    source = trial.user_attrs.get(IMPORTED_ATTR)
    if source:
        study_name, _, number = str(source).partition("#")
        raise UserError(
            f"SOURCE: trial {trial.number} of '{name}' was imported from {source}: its adapter is that "
            f"study's; give {study_name}:{number}"
        )
    if trial.state.name != "COMPLETE":
        raise UserError(
            f"SOURCE: trial {trial.number} of '{name}' is {trial.state.name}: "
            f"only COMPLETE trials keep an adapter"
        )
    trial_dir = trial.user_attrs.get("trial_dir")
    adapter = Path(trial_dir) / "adapter" if trial_dir else None
    if adapter is None or not (adapter / ADAPTER_CONFIG).is_file():
        adapter = fetched_adapter(study, trial) or adapter
    if adapter is None or not (adapter / ADAPTER_CONFIG).is_file():
        raise UserError(
            f"SOURCE: trial {trial.number}'s adapter is not at {adapter} on this host, nor in an "
            f"artifact store (`search --artifacts`); merge it where it was trained, or copy its "
            f"folder here and give the folder"
        )
    return adapter, stored_config(study).with_values(dict(trial.params))


def fetched_adapter(study: Any, trial: Any) -> Path | None:
    """The trial's adapter from the study's artifact store, in the local cache; None when the
    study has none (or the trial no adapter there)."""
    try:
        return fetch_adapter(study, trial)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - the store's own errors: network, permissions
        raise UserError(
            f"SOURCE: trial {trial.number}'s adapter could not be fetched from "
            f"{study.user_attrs.get(ARTIFACTS_ATTR)}: {first_line(exc)}"
        ) from None


def _from_folder(folder: Path) -> tuple[Path, TrainParams]:
    if not (folder / ADAPTER_CONFIG).is_file():
        raise UserError(f"SOURCE: {folder} holds no LoRA adapter ({ADAPTER_CONFIG} is missing)")
    for candidate, key in ((folder / TRAIN_CONFIG, None), (folder.parent / TRIAL_RESULTS, "config")):
        if candidate.is_file():
            try:
                data: Any = json.loads(candidate.read_text(encoding="utf-8"))
                return folder, TrainParams.model_validate(data[key] if key else data)
            except (ValueError, KeyError, TypeError) as exc:
                raise UserError(
                    f"SOURCE: {candidate} does not hold the adapter's parameters ({exc})"
                ) from None
    raise UserError(
        f"SOURCE: {folder} has no {TRAIN_CONFIG} beside it (nor a trial's {TRIAL_RESULTS} above it), so its "
        f"base model is unknown; give a study's trial (STUDY:N) instead"
    )

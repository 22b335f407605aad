"""Opening a study to look at it: read-only, and a one-line answer when there is nothing to see.

Every command that looks at a finished (or running) study goes through `open_existing`: a
storage that cannot be opened, a name that is not in it, a study lorasearch did not make, each
ends with exit code 2 and one line, before anything is drawn or written.
"""

from __future__ import annotations

from typing import Any

from ..config import SearchConfig, parse_config
from ..errors import RunFailure, UserError
from ..search import (
    CONFIG_ATTR,
    check_study_name,
    default_storage,
    first_line,
    mask_password,
    open_storage,
    sqlite_path,
    study_exists,
)


def open_existing(study_name: str, storage: str | None = None) -> Any:
    """The Optuna study `study_name` in `storage` (default: its own SQLite file), opened
    read-only where the storage allows (SQLite refuses every write then)."""
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
    opened = open_storage(url, read_only=True)
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


def stored_config(study: Any) -> SearchConfig:
    """The config the study was searched with (lorasearch stores it in the study)."""
    stored = study.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        raise UserError(f"study '{study.study_name}' was not made by lorasearch (it stores no config)")
    return parse_config(stored, f"study '{study.study_name}'")

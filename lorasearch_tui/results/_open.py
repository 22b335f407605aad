"""Opening a study to look at it: read-only, and a one-line answer when there is nothing to see.

Every command that looks at a finished (or running) study goes through `open_existing` (the
engine's, which `lorasearch watch` uses too): a storage that cannot be opened, a name that is
not in it, a study lorasearch did not make, each ends with exit code 2 and one line, before
anything is drawn or written.
"""

from __future__ import annotations

from typing import Any

from ..config import SearchConfig, parse_config
from ..errors import UserError
from ..store import CONFIG_ATTR


def stored_config(study: Any) -> SearchConfig:
    """The config the study was searched with (lorasearch stores it in the study)."""
    stored = study.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        raise UserError(f"study '{study.study_name}' was not made by lorasearch (it stores no config)")
    return parse_config(stored, f"study '{study.study_name}'")

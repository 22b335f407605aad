"""What can be known wrong before a study is created or resumed, checked before it is.

A trial that fails for a reason that could be known up front (data not found from this
folder, a model folder that does not load, a bound that is not finite, an output folder that
is a file) costs a worker start, leaves a FAIL in the study, and repeats for every trial.
Checked here instead, it ends the command with exit code 2 and nothing recorded.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import SearchConfig, check_options
from ..data import load_data
from ..errors import UserError
from ..locate import model_path
from ..worker import FAULT_ENV_VAR, parse_faults

__all__ = ["FAULT_ENV_VAR", "check_folders", "fault_injection", "preflight"]
from ..store import RESULTS_DIR
from ._samplers import make_pruner, make_sampler


def preflight(config: SearchConfig, mode: str, pruner: str, study_name: str, new: bool) -> None:
    """Check the config a search will run with, its data, its model and its folders.

    Args:
        new: a new study; its trial folder must not hold an older study's trials.

    Raises:
        UserError: the first problem, in one line.
    """
    if not config.space:
        raise UserError(
            f"{config.source}: search_space: nothing to search; add a search_space (configs/demo.json "
            f"has one), or run lorasearch train for one fixed config"
        )
    make_sampler(mode, config.space, config.params.seed, 0)  # grid refuses floats and huge grids
    make_pruner(pruner, config.pruner, config.params.eval_steps)
    if pruner == "wilcoxon" and not config.params.multi and not config.params.objective.generates:
        raise UserError(
            f"--pruner wilcoxon: it compares trials record by record, and {config.params.objective.metric} "
            "has no per-record scores; set objective.metric to cer, wer or exact_match"
        )
    # decodes every image, so a truncated one is found now; a test split of the same data is
    # selected only to refuse an overlap with train or val before anything trains on it (a
    # test_data file of its own cannot overlap, and is not opened)
    same_source_test = config.params.test_split is not None and config.params.test_data is None
    data = load_data(config.params, with_test=same_source_test)
    check_options(config.params, data.has_images)
    model_path(config.params.model_name, config.params.model_revision)
    check_folders(config, study_name, new)


def check_folders(config: SearchConfig, study_name: str, new: bool) -> None:
    """The result and trial folders can be made, and a new study gets an empty one."""
    _creatable(RESULTS_DIR, "the results folder")
    base = Path(config.params.base_output_dir)
    _creatable(base, "base_output_dir")
    study_dir = base / study_name
    if new and study_dir.is_dir() and any(study_dir.iterdir()):
        raise UserError(
            f"base_output_dir: {study_dir} already holds the trials of an earlier study named "
            f"'{study_name}'; move or delete that folder, or choose another --study-name"
        )


def _creatable(folder: Path, what: str) -> None:
    """`folder` is a folder, or can be made: its nearest existing parent is a writable folder."""
    for existing in (folder, *folder.parents):
        if existing.exists() or existing.is_symlink():
            break
    else:
        return
    if not existing.is_dir():
        raise UserError(f"{what}: {existing} is a file, not a folder; choose another place or move the file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{what}: cannot write in {existing} (permission denied); choose another place")


def fault_injection() -> str | None:
    """The test hook's value when set (checked: a malformed one is an error, not ignored)."""
    text = os.environ.get(FAULT_ENV_VAR)
    if not text:
        return None
    try:
        parse_faults(text)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return text

"""What `evaluate` scores: the K best complete trials of a study (or one adapter folder), and
always the base model without an adapter, the row every fine-tune is measured against.

A candidate's answers go beside its adapter: a trial's folder, a `lorasearch train` output; the
base model's into `{base_output_dir}/{study}/base_model` (or `base_model/` in the train output),
so a second evaluate, or one resumed after a kill, finds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainParams
from ..errors import UserError
from ..events import BASE_MODEL as BASE


@dataclass(frozen=True)
class Candidate:
    """One row of the evaluation."""

    name: str  # "trial 7", "adapter", or BASE
    trial: int | None
    adapter: Path | None  # None: the base model alone
    folder: Path  # where its `{split}_generations.jsonl` goes
    params: TrainParams
    searched: dict[str, Any] = field(default_factory=dict)  # a trial's searched values, for the table

    def job(self, split: str) -> dict[str, Any]:
        """The worker's view of it (`_worker.run_job`)."""
        from ._generations import generations_file

        return {
            "name": self.name,
            "adapter": str(self.adapter) if self.adapter else None,
            "file": str(generations_file(self.folder, split)),
            "params": self.params.model_dump(),
        }


def ranked_trials(study: Any) -> list[Any]:
    """The COMPLETE trials the study trained (not imported ones: their adapters are another
    study's), best first in the (first) objective, the older first on a tie."""
    from ..results import stored_config
    from ..store import measured_here

    goal = stored_config(study).params.objective.goal
    complete = [t for t in measured_here(study) if t.values]
    sign = 1 if goal == "minimize" else -1
    return sorted(complete, key=lambda t: (sign * t.values[0], t.number))


def study_candidates(study: Any, numbers: list[int]) -> list[Candidate]:
    """The trials `numbers` of a study and the base model (with the best one's parameters).

    Raises:
        UserError: a trial that is not COMPLETE or whose adapter is not on this host.
    """
    from ..results import fetched_adapter, stored_config
    from ..store import IMPORTED_ATTR

    config = stored_config(study)
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    out = []
    for number in numbers:
        trial = by_number.get(number)
        if trial is None:
            raise UserError(f"--trial: study '{study.study_name}' has no trial {number}")
        if trial.state.name != "COMPLETE":
            raise UserError(
                f"--trial: trial {number} is {trial.state.name}: only COMPLETE trials keep an adapter "
                "to evaluate"
            )
        if trial.user_attrs.get(IMPORTED_ATTR):
            source = trial.user_attrs[IMPORTED_ATTR]
            raise UserError(
                f"--trial: trial {number} was imported from {source} (--warm-start-from): its adapter is "
                f"that study's; evaluate it there"
            )
        folder = Path(trial.user_attrs.get("trial_dir", ""))
        if not (folder / "adapter" / "adapter_config.json").is_file():
            fetched = fetched_adapter(study, trial)  # from the study's artifact store, if any
            folder = fetched.parent if fetched is not None else folder
        if not (folder / "adapter" / "adapter_config.json").is_file():
            raise UserError(
                f"trial {number}'s adapter is not at {folder / 'adapter'} on this host, nor in an artifact "
                f"store; evaluate where it was trained, or copy its folder here and give the folder"
            )
        values = dict(trial.params)
        out.append(
            Candidate(
                f"trial {number}", number, folder / "adapter", folder, config.with_values(values), values
            )
        )
    base_folder = Path(config.params.base_output_dir) / study.study_name / "base_model"
    out.append(Candidate(BASE, None, None, base_folder, out[0].params))
    _same_base_and_data(out)
    return out


def adapter_candidates(folder: Path) -> list[Candidate]:
    """An adapter folder (a train output or a trial's `adapter/`) and its base model."""
    from ..results import find_adapter

    adapter, params = find_adapter(str(folder))
    home = adapter.parent if adapter.name == "adapter" else adapter
    return [
        Candidate("adapter", None, adapter, home, params),
        Candidate(BASE, None, None, home / "base_model", params),
    ]


def _same_base_and_data(candidates: list[Candidate]) -> None:
    """One base model and one set of records for every row, or the comparison is not paired."""
    from ..data import data_key
    from ..training import model_key

    first = candidates[0]
    for other in candidates[1:-1]:
        if model_key(other.params) != model_key(first.params) or data_key(other.params) != data_key(
            first.params
        ):
            raise UserError(
                f"--top: {first.name} and {other.name} differ in their model or data settings (searched), "
                f"which evaluate compares on one base and one set of records; evaluate them one at a "
                f"time with --trial N"
            )

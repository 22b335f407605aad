"""Where the rerun of a lost trial picks up: the last checkpoint of the trial it runs again.

With `--checkpoint-every N` a trial's worker keeps its last checkpoint (adapter, optimizer,
scheduler, RNG states, data position: Transformers' `checkpoint-N` folder) in the trial's
`trainer/` folder. A trial that ends is recorded and its checkpoints removed (its adapter is
saved apart, and a 12B trial's checkpoint is gigabytes). A trial whose runner is lost (killed,
its lease run out, a scheduler's signal) keeps it, and the trial queued to run its parameters
again (`rerun_of`) starts from there, on any host that sees the folder (a shared file system):
its curve up to that step is the lost trial's, copied, and its worker trains on from that step.
The copied evals are told to Optuna as the rerun's own intermediate values, so the pruner never
judges a step twice and compares the rerun on its whole curve.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..events import EvalLogged, StepLogged, decode_lines
from ..store import LIVE_METRICS, read_regular_file

TRAINER_DIR = "trainer"  # in a trial's folder: the trainer's working folder, its checkpoints
_STATE = "trainer_state.json"  # written last into a checkpoint (Trainer._save_checkpoint)
# what a resume loads besides the state: a bucket mount may upload the small state file first
_NEEDED = ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt")


@dataclass(frozen=True)
class ResumePoint:
    """A checkpoint a rerun goes on from."""

    trial: int  # the lost trial that wrote it
    step: int
    checkpoint: Path
    folder: Path  # the lost trial's folder: its curve up to `step` is the rerun's too

    def curve(self, number: int) -> list[StepLogged | EvalLogged]:
        """The lost trial's steps and evals up to the checkpoint, as trial `number`'s."""
        events = decode_lines(read_regular_file(self.folder / LIVE_METRICS) or b"")
        return [
            replace(e, number=number)
            for e in events
            if isinstance(e, (StepLogged, EvalLogged)) and e.step <= self.step
        ]


def last_checkpoint(folder: Path) -> tuple[int, Path] | None:
    """The step and folder of the newest complete checkpoint in trial folder `folder`.

    Transformers writes `trainer_state.json` last, so a checkpoint cut short by a kill has none
    (or one that does not parse) and is passed over for the one before it; so is one missing a
    file the resume loads (a copy that arrived in another order).
    """
    newest: tuple[int, Path] | None = None
    for path in (folder / TRAINER_DIR).glob("checkpoint-*"):
        try:
            step = int(json.loads((path / _STATE).read_text())["global_step"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not all((path / name).is_file() for name in _NEEDED):
            continue
        if newest is None or step > newest[0]:
            newest = (step, path)
    return newest


def _chain(study: Any, number: int | None) -> list[tuple[int, Path | None]]:
    """Trial `number` and the trials it reruns, newest first: (number, folder)."""
    trials = study.get_trials(deepcopy=False) if number is not None else []
    chain: list[tuple[int, Path | None]] = []
    seen: set[int] = set()
    while number is not None and 0 <= number < len(trials) and number not in seen:
        seen.add(number)
        folder = trials[number].user_attrs.get("trial_dir")
        chain.append((number, Path(folder) if folder else None))
        number = trials[number].user_attrs.get("rerun_of")
    return chain


def chain_folders(study: Any, number: int | None) -> list[Path]:
    """The folders of trial `number` and of every trial it reruns, directly or not: once a
    rerun is recorded for good, none of their checkpoints serves anyone."""
    return [folder for _, folder in _chain(study, number) if folder is not None]


def resume_point(study: Any, number: int | None) -> ResumePoint | None:
    """Where a rerun of trial `number` resumes: the newest checkpoint along the chain of reruns
    that ends at it (a rerun lost before its own first checkpoint leaves the one it started
    from). None: no checkpoint, or none this host can see; the rerun starts from step 0."""
    for trial, folder in _chain(study, number):
        found = last_checkpoint(folder) if folder is not None else None
        if found is not None and folder is not None:
            return ResumePoint(trial, found[0], found[1], folder)
    return None


def remove_checkpoints(folder: Path) -> None:
    """Free a trial's checkpoints once it is recorded (they only serve a rerun), and the
    trainer's folder with them when nothing else is in it (TRL writes a model card, README.md,
    beside its checkpoints: about them, so it goes with them)."""
    trainer = folder / TRAINER_DIR
    for path in trainer.glob("checkpoint-*"):
        shutil.rmtree(path, ignore_errors=True)
    if (trainer / "README.md").is_file() and not any(trainer.glob("checkpoint-*")):
        (trainer / "README.md").unlink(missing_ok=True)
    try:
        trainer.rmdir()
    except OSError:  # absent, or holds something else
        pass

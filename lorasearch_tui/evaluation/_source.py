"""One evaluate, from what the user named to the files it leaves: a study (its best trials, or
the trial it confirmed) or one adapter folder.

On a study: `--split val` re-ranks the K best trials on the val records (all of them unless
`--samples`), stopping the ones significantly worse than the leader early, and writes the
winner as `optuna_studies/{study}_confirmed_config.json`, trainable as it is; `--split test`
then scores only that confirmed trial (the best trial when none was confirmed) and the base, so
the choice never looks at the test records. The summary goes to
`optuna_studies/{study}_evaluation.json` and into the study (`EVALUATION_ATTR`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..errors import UserError
from ..store import EVALUATION_ATTR
from ._candidates import Candidate, adapter_candidates, ranked_trials, study_candidates
from ._run import Progress, generate, records_of, save, score


@dataclass(frozen=True)
class Request:
    """What the user asked for (the command's options)."""

    source: str  # a study's name or an adapter folder
    storage: str | None = None
    split: str = "val"
    top: int | None = None  # default: 3 on val; on test, the confirmed (or best) trial
    trial: int | None = None
    samples: int | None = None
    batch_size: int = 8
    early_stop: bool = True
    gpu: str | None = None  # `--gpus`' syntax, one GPU; None: the first, else the CPU


@dataclass(frozen=True)
class Evaluated:
    """The summary and where it was written."""

    summary: dict[str, Any]
    file: Path
    confirmed_config: Path | None


def confirmed_file(study_name: str) -> Path:
    from ..store import RESULTS_DIR

    return RESULTS_DIR / f"{study_name}_confirmed_config.json"


def evaluation_file(study_name: str) -> Path:
    from ..store import RESULTS_DIR

    return RESULTS_DIR / f"{study_name}_evaluation.json"


def evaluate(request: Request, on_progress: Callable[[Progress], None] = lambda p: None) -> Evaluated:
    """Generate what is missing, score, write the files.

    Raises:
        UserError: no such study or folder, no complete trial, a trial without its adapter, a
            split the config does not have; all before any model loads.
        RunFailure: the worker failed.
    """
    folder = Path(request.source).expanduser()
    if folder.is_dir():
        candidates = adapter_candidates(folder)
        study = None
        log = candidates[0].folder / "evaluate.log"
        out = candidates[0].folder / "evaluation.json"
    else:
        from ..store import open_existing

        study = open_existing(request.source, request.storage)
        candidates = study_candidates(study, _numbers(study, request))
        log = candidates[-1].folder.parent / "evaluate.log"
        out = evaluation_file(study.study_name)
    # a Hub model or data set is in the cache (its search put it there): checked here, in the
    # parent, which alone may download, so that the worker never reaches the network
    from ..data import with_data
    from ..hub import with_model

    with_model(with_data(candidates[0].params))
    records = records_of(candidates[0], request.split, request.samples)
    from ..search import plan_workers

    try:
        where = plan_workers(request.gpu, None, 1)[0]
    except UserError as exc:  # its words are search's flags: say them as evaluate's
        raise UserError(
            f"--gpu: {str(exc).split(': ', 1)[-1].split(';')[0]}; leave --gpu out to use the CPU"
        ) from None
    early = request.early_stop and request.split == "val"
    progress = generate(
        candidates, request.split, request.samples, request.batch_size, early, log, on_progress, where.env
    )
    summary = score(candidates, request.split, records, progress.stopped)
    confirmed = None
    adapters = sum(1 for c in candidates if c.adapter is not None)
    # a choice needs a comparison: one trial alone (--trial N, --top 1) confirms nothing, and
    # leaves an earlier confirmation as it was
    if study is not None and request.split == "val" and summary["best_trial"] is not None and adapters > 1:
        confirmed = _confirm(study, summary["best_trial"])
        summary["confirmed_config"] = str(confirmed)
    save(summary, out)
    if study is not None:
        _store(request, summary)
    return Evaluated(summary, out, confirmed)


def _numbers(study: Any, request: Request) -> list[int]:
    """The trials to evaluate: `--trial N`, else the `--top K` best, else the default of the split."""
    if request.trial is not None:
        return [request.trial]
    ranked = ranked_trials(study)
    if not ranked:
        raise UserError(f"study '{study.study_name}' has no COMPLETE trial to evaluate yet")
    if request.top is not None:
        return [t.number for t in ranked[: request.top]]
    if request.split == "test":
        confirmed = study.user_attrs.get(EVALUATION_ATTR, {}).get("val", {}).get("best_trial")
        return [confirmed if confirmed is not None else ranked[0].number]
    return [t.number for t in ranked[:3]]


def _confirm(study: Any, number: int) -> Path:
    """The re-ranking's winner as a config `lorasearch train` runs unchanged."""
    from ..results import stored_config

    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    path = confirmed_file(study.study_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, stored_config(study).with_values(dict(trial.params)).model_dump())
    return path


def _store(request: Request, summary: dict[str, Any]) -> None:
    """Keep the summary in the study (a writable handle: the look-only one refuses writes)."""
    from ..store import open_existing

    study = open_existing(request.source, request.storage, writable=True)
    stored = dict(study.user_attrs.get(EVALUATION_ATTR, {}))
    stored[summary["split"]] = _lite(summary)
    study.set_user_attr(EVALUATION_ATTR, stored)


def _lite(summary: dict[str, Any]) -> dict[str, Any]:
    """What the study keeps: the numbers, not the file paths of this host."""
    rows = [{k: v for k, v in row.items() if k != "generations"} for row in summary["candidates"]]
    return {
        **{k: v for k, v in summary.items() if k not in ("candidates", "confirmed_config")},
        "candidates": rows,
    }


__all__ = [
    "EVALUATION_ATTR",
    "Candidate",
    "Evaluated",
    "Request",
    "confirmed_file",
    "evaluate",
    "evaluation_file",
]

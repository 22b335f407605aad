"""`evaluate` without its front end: generate in a worker process, then score from the files.

The parent checks everything it can first (the study, the adapters, the data and its split: a
wrong one is one line and exit code 2 before a model loads), hands the worker a job file, reads
its progress, and, once the answers are all on disk, scores them itself, so every number comes
from the generations files a user can read. The summary is written to
`optuna_studies/{study}_evaluation.json` (or `evaluation.json` in an adapter folder) and stored in
the study, where `show` and the report find it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..errors import RunFailure, UserError
from ..scores import RecordScore, normalized, paired, score_record, summarize
from ._candidates import BASE, Candidate
from ._generations import generations_file, read_generations
from ._worker import MARK

WORKER = (sys.executable, "-m", "lorasearch_tui.evaluation")


@dataclass
class Progress:
    """What the worker has said so far, for a progress bar: records done of the total."""

    total: int = 0
    done: int = 0
    stage: str = "starting"
    stopped: dict[str, dict[str, Any]] = field(default_factory=dict)


def records_of(candidate: Candidate, split: str, samples: int | None) -> list[int]:
    """The record indices the evaluation scores, loaded in this process (no model, no torch):
    a data problem is one line here, before the worker starts.

    Raises:
        UserError: the data cannot be read, or `split` is test and the config names no test split.
    """
    from ..data import load_data

    params = candidate.params
    if split == "test" and params.test_data is None and params.test_split is None:
        raise UserError(
            "--split test: the config names no held-out records; set test_split (a Hub dataset's test, or "
            "train_split train[:80%], val_split train[80%:90%], test_split train[90%:]) or test_data, "
            "and search again"
        )
    data = load_data(params, decode_images=False, with_test=split == "test")
    examples = data.test if split == "test" else data.val
    return [e.index for e in examples[:samples]]


def generate(
    candidates: list[Candidate],
    split: str,
    samples: int | None,
    batch_size: int,
    early_stop: bool,
    log: Path,
    on_progress: Callable[[Progress], None] = lambda p: None,
    env: dict[str, str] | None = None,
) -> Progress:
    """Run the worker until every candidate has answered every record (or was stopped early).

    Raises:
        RunFailure: the worker failed; the message names its log.
        KeyboardInterrupt: after the worker is stopped; what it wrote is kept for a resume.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    job = {
        "split": split,
        "samples": samples,
        "batch_size": batch_size,
        "early_stop": early_stop,
        "candidates": [c.job(split) for c in candidates],
    }
    job_file = log.with_suffix(".job.json")
    write_json(job_file, job)
    progress = Progress()
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [*WORKER, str(job_file)],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl+C reaches the parent, which stops the worker
            # never the network; pinned to its GPU (or its CPU threads) as a trial's worker is
            env={
                **os.environ,
                "HF_HUB_OFFLINE": "1",
                **(env or {}),
            },
        )
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                if not line.startswith(MARK):
                    err.write(raw)
                    continue
                _follow(progress, json.loads(line[len(MARK) :]))
                on_progress(progress)
            code = proc.wait()
        except BaseException:
            try:  # the worker and whatever it started (its own session, so its own group)
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise
    if code == 2:
        raise UserError(_last_line(log).removeprefix("error: "))
    if code != 0:
        raise RunFailure(f"the evaluate worker failed (exit code {code}): {_last_line(log)}; see {log}")
    return progress


def _follow(progress: Progress, message: dict[str, Any]) -> None:
    event = message["event"]
    if event == "loading":
        progress.stage = f"loading {message['model']}"
    elif event == "started":
        progress.total = message["records"] * message["candidates"]
        progress.done = message["done"]
        progress.stage = "generating"
    elif event == "generated":
        progress.done += message["new"]
    elif event == "stopped":
        progress.stopped[message["candidate"]] = {"records": message["records"], "p": message["p"]}
    elif event == "done":
        progress.stage = "scoring"


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def score(
    candidates: list[Candidate],
    split: str,
    records: list[int],
    stopped: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The evaluation from the generations files: every candidate's metrics with intervals, and
    paired differences against the best adapter and against the base model.

    "Best" is the lowest corpus CER among the adapters that answered every record (one stopped
    early was already significantly worse than the leader)."""
    wanted = set(records)
    per: dict[str, list[RecordScore]] = {}
    rows = []
    for c in candidates:
        gens = [g for g in read_generations(generations_file(c.folder, split)) if g.record in wanted]
        how = c.params.objective.normalize  # the raw texts again: a changed normalize needs no new answers
        per[c.name] = [
            score_record(g.record, normalized(g.raw_prediction, how), normalized(g.raw_reference, how))
            for g in gens
        ]
        rows.append(
            {
                "name": c.name,
                "trial": c.trial,
                "params": c.searched,
                "records": len(gens),
                "generations": str(generations_file(c.folder, split)),
                # stopped before the last record (a stop at the last batch saved nothing)
                "stopped_early": (stopped or {}).get(c.name) if len(gens) < len(records) else None,
                "metrics": summarize(per[c.name], seed),
            }
        )
    complete = [r for r in rows if r["name"] != BASE and r["records"] == len(records)]
    best = min(complete, key=lambda r: (r["metrics"]["cer"]["value"], r["trial"] or 0), default=None)
    for row in rows:
        if row["name"] != BASE:
            row["vs_base"] = paired(per[row["name"]], per[BASE], seed)
        if best is not None and row is not best:
            row["vs_best"] = paired(per[row["name"]], per[best["name"]], seed)
    full = len(records) * len(candidates)
    return {
        "split": split,
        "records": len(records),
        "normalize": candidates[0].params.objective.normalize.model_dump(),
        "best": best["name"] if best else None,
        "best_trial": best["trial"] if best else None,
        "candidates": rows,
        "generations": sum(r["records"] for r in rows),
        "generations_saved": full - sum(r["records"] for r in rows),
        "seed": seed,
    }


def save(summary: dict[str, Any], file: Path) -> None:
    """Merge one split's summary into the evaluation file (val and test live side by side)."""
    try:
        whole = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
    except ValueError:
        whole = {}
    whole[summary["split"]] = summary
    file.parent.mkdir(parents=True, exist_ok=True)
    write_json(file, whole)

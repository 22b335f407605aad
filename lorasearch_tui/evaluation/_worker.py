"""The evaluate worker: `python -m lorasearch_tui.evaluation JOB.json`, a process of its own as a
trial's worker is (the parent never imports torch, and a crash or an out-of-memory ends this
process, not the command).

It loads the base once (4-bit as in training, bf16 compute on a GPU), puts every candidate's
adapter on it under its own name, and goes through the records batch by batch, each candidate
in turn (`set_adapter`, or the adapters switched off for the base model), appending each batch's
answers to the candidate's generations file. Round by round, so that a re-ranking can stop a
candidate that is already significantly worse than the leader (`_rerank.py`) before it spends
generations on the rest. Records a file already holds are not generated again: a killed
evaluate resumes.

Progress goes to stdout as lines that start with `PROGRESS`, one JSON object each; the rest of
stdout and stderr is the libraries' and lands in the log.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import TrainParams
from ..errors import UserError
from ._generations import Generation, append_generations, read_generations
from ._rerank import check_alpha, check_points, to_stop

MARK = "PROGRESS "


def run_job(job: dict[str, Any], say: Callable[[dict[str, Any]], None]) -> None:
    """Generate what the job's candidates still lack (see the module's docstring).

    Every candidate shares the base model and the data of the first: a study's trials differ in
    what the search varied, and `_run.py` refuses a job where that is the model or the data.
    """
    from ..data import load_data
    from ..scores import normalized
    from ..training import generate, load_base, max_new_tokens

    candidates = job["candidates"]
    params = TrainParams.model_validate(candidates[0]["params"])
    data = load_data(params, decode_images=False, with_test=job["split"] == "test")
    split = data.test if job["split"] == "test" else data.val
    examples = split[: job["samples"]] if job.get("samples") else split
    how = params.objective.normalize
    say({"event": "loading", "model": params.model_name, "records": len(examples)})
    base = load_base(params)
    model = _with_adapters(base.model, candidates)
    gc.collect()
    gc.freeze()  # the model and the libraries live to the end: no collection need look at them
    # from every record of the split, not only --samples: a later, larger run reuses these answers
    max_new = max_new_tokens(base, split, params.objective)
    files = [Path(c["file"]) for c in candidates]
    done = [{g.record: g for g in read_generations(f)} for f in files]
    stopped: set[int] = set()
    batch = max(1, job["batch_size"])
    checks = check_points(len(examples), batch)
    adapters = sum(1 for c in candidates if c["adapter"] is not None)
    wanted = {e.index for e in examples}
    already = sum(len(wanted & d.keys()) for d in done)
    say({"event": "started", "records": len(examples), "candidates": len(candidates), "done": already})
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        for i, candidate in enumerate(candidates):
            todo = [e for e in chunk if e.index not in done[i]]
            if i in stopped or not todo:
                continue
            answers = _answers(base, model, candidate, i, todo, max_new, generate)
            rows = [
                Generation(e.index, normalized(a, how), normalized(e.answer_text(), how), a, e.answer_text())
                for e, a in zip(todo, answers, strict=True)
            ]
            append_generations(files[i], rows)
            done[i].update((g.record, g) for g in rows)
            say({"event": "generated", "candidate": candidate["name"], "new": len(rows)})
        seen = min(start + batch, len(examples))
        if job.get("early_stop") and seen in checks:
            stopped |= _stops(candidates, done, stopped, examples[:seen], check_alpha(adapters), say)
    say({"event": "done"})


def _with_adapters(model: Any, candidates: list[dict[str, Any]]) -> Any:
    """The base with each candidate's adapter loaded under the name `c{i}`; the base alone when
    no candidate has one."""
    from peft import PeftModel

    peft = None
    for i, candidate in enumerate(candidates):
        if candidate["adapter"] is None:
            continue
        if peft is None:
            peft = PeftModel.from_pretrained(model, candidate["adapter"], adapter_name=f"c{i}")
        else:
            peft.load_adapter(candidate["adapter"], adapter_name=f"c{i}")
    out = peft if peft is not None else model
    out.eval()
    return out


def _answers(
    base: Any, model: Any, candidate: dict[str, Any], i: int, todo: list[Any], max_new: int, generate: Any
) -> list[str]:
    import torch

    with torch.no_grad():
        if candidate["adapter"] is None:
            if hasattr(model, "disable_adapter"):
                with model.disable_adapter():
                    return list(generate(base, model, todo, max_new))
            return list(generate(base, model, todo, max_new))
        model.set_adapter(f"c{i}")
        return list(generate(base, model, todo, max_new))


def _stops(
    candidates: list[dict[str, Any]],
    done: list[dict[int, Generation]],
    stopped: set[int],
    seen: list[Any],
    alpha: float,
    say: Callable[[dict[str, Any]], None],
) -> set[int]:
    """The adapters (never the base) significantly worse than the leader on the records so far;
    the leader is the lowest corpus CER, the measure the final choice is made on."""
    from ..scores import per_record_cer, score_record

    wanted = {e.index for e in seen}
    records = {
        i: [score_record(g.record, g.prediction, g.reference) for r, g in done[i].items() if r in wanted]
        for i, c in enumerate(candidates)
        if c["adapter"] is not None and i not in stopped
    }
    records = {i: r for i, r in records.items() if r}
    if not records:
        return set()
    leader = min(
        records, key=lambda i: sum(s.char_edits for s in records[i]) / sum(s.ref_chars for s in records[i])
    )
    scores = {i: per_record_cer(r) for i, r in records.items()}
    stops = to_stop({str(i): s for i, s in scores.items()}, alpha, leader=str(leader))
    for name, p in stops.items():
        i = int(name)
        say({"event": "stopped", "candidate": candidates[i]["name"], "records": len(scores[i]), "p": p})
    return {int(name) for name in stops}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))

    def say(message: dict[str, Any]) -> None:
        print(MARK + json.dumps(message), flush=True)

    try:
        run_job(job, say)
    except UserError as exc:  # a model folder gone since the parent looked: one line, exit 2
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

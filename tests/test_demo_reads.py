"""The demo's model is taught to read when it is built, so a CER search on the demo finds
something (issue 21, item 6): before, every trial scored CER 1.0 and the search crowned a tie.

The rest of the suite builds the demo untaught (conftest: `LORASEARCH_DEMO_PRETRAIN_STEPS=0`);
this test builds it as a user's first `lorasearch demo` does, in a cache of its own: about two
minutes of one core for the build, then two trials of the demo search and an evaluate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, write_json
from helpers.searching import lorasearch

from lorasearch_tui.demo._pretrain import DESCRIPTION, READ_INSTRUCTION


@pytest.mark.slow
def test_a_cer_search_on_the_taught_demo_finds_a_fine_tune_that_reads(tmp_path):
    """Break `pretrain` (its steps at 0, or the demo's question answered with the line) and the
    best CER stays at the untaught 1.0 or the base model reads as well as the best trial."""
    env = {"LORASEARCH_CACHE_DIR": str(tmp_path / "cache"), "LORASEARCH_DEMO_PRETRAIN_STEPS": None}
    # a learning rate the search finds good on the demo, and one too low to teach it in a trial
    write_json(
        tmp_path / "known.json",
        [{"learning_rate": 0.01, "lora_r": 16}, {"learning_rate": 0.001, "lora_r": 4}],
    )
    ran = lorasearch(
        tmp_path,
        "search",
        "-c",
        str(REPO / "configs" / "demo.json"),
        "--study-name",
        "reads",
        "--n-trials",
        "2",
        "--enqueue",
        "known.json",
        "--pruner",
        "none",
        "--no-tui",
        "--set",
        "objective.metric=cer",
        "--set",
        "objective.eval_samples=12",
        env=env,
        timeout=1200,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "Teaching it to read (1500 steps" in ran.stdout + ran.stderr
    shown = lorasearch(tmp_path, "show", "reads", "--json", env=env)
    values = [t["value"] for t in json.loads(shown.stdout)["trials"]]
    assert len(values) == 2 and min(values) < 0.5 and len(set(values)) == 2, values

    evaluated = lorasearch(tmp_path, "evaluate", "reads", "--top", "1", "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    best, base = json.loads(evaluated.stdout)["candidates"]
    assert best["metrics"]["cer"]["value"] < 0.5 < base["metrics"]["cer"]["value"]
    assert best["vs_base"]["cer"]["better"]  # the paired interval lies below 0: told apart

    # The evals generate records of like lengths together and put the answers back in record
    # order: each record's answer is the one it gets alone (mutation: the answers put back by
    # position, not by record, pairs lines with the wrong references).
    _answers_in_length_order_are_the_answers_alone(tmp_path, best["trial"])


def _answers_in_length_order_are_the_answers_alone(tmp_path, trial):
    from peft import PeftModel

    from lorasearch_tui.config import TrainParams
    from lorasearch_tui.data import load_data
    from lorasearch_tui.demo import DEMO_INSTRUCTION
    from lorasearch_tui.scores import normalized
    from lorasearch_tui.training import generate, load_base, max_new_tokens
    from lorasearch_tui.training._scoring import Scorer, score

    assets = tmp_path / "cache" / "demo-v2"
    params = TrainParams(
        model_name=str(assets / "tiny-gemma3"),
        input_data=str(assets / "ocr" / "data.jsonl"),
        instruction=DEMO_INSTRUCTION,
        train_split="train[:90%]",
        val_split="train[90%:]",
        objective={"metric": "cer", "eval_samples": 12},
    )
    base = load_base(params)
    # the taught base model: asked its own way, it reads; asked the demo's question, it describes
    asked = load_data(params).val[:6]
    read = load_data(params.model_copy(update={"instruction": READ_INSTRUCTION})).val[:6]
    max_new = max_new_tokens(base, read, params.objective)
    assert score("cer", generate(base, base.model, read, max_new), [e.answer_text() for e in read]) < 0.1
    assert [a.strip() for a in generate(base, base.model, asked, max_new)] == [DESCRIPTION] * 6

    model = PeftModel.from_pretrained(
        base.model, str(tmp_path / "models/hyperparam_search/reads" / f"trial_{trial}" / "adapter")
    )
    model.eval()
    log = tmp_path / "generations.jsonl"
    scorer = Scorer(base, load_data(params), params.objective, 4, log)
    assert scorer._order != list(range(12))  # the lines differ in length: not the records' order
    scorer(model, 0)
    written = [json.loads(line)["prediction"] for line in log.read_text(encoding="utf-8").splitlines()]
    alone = [generate(base, model, [e], scorer._max_new)[0] for e in scorer._examples]
    assert written == [normalized(a, params.objective.normalize) for a in alone]


def test_the_taught_model_reads_when_asked_its_own_way_and_describes_when_asked_the_demos():
    """What the build teaches, in words a reader of the README can check against the code."""
    # the same length in tokens (bytes) as the demo's question: the answer starts at the same
    # distance from the image, so an adapter learns what to do, not where to look
    from lorasearch_tui.demo import DEMO_INSTRUCTION

    assert len(READ_INSTRUCTION.encode()) == len(DEMO_INSTRUCTION.encode())


@pytest.mark.slow
def test_two_processes_building_the_demo_at_once_build_it_once(tmp_path):
    """Array tasks sharing a home folder start together: the first builds, the others wait for
    its build and use it (mutation: no lock: both build, and the second's rename finds the
    first's folder in its way)."""
    env = {**os.environ, "LORASEARCH_CACHE_DIR": str(tmp_path), "LORASEARCH_DEMO_PRETRAIN_STEPS": "0"}
    build = "from lorasearch_tui.demo import ensure_demo_assets; print(ensure_demo_assets(print))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", build],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(o.count("Building the demo data set") for o in outs) == 1, outs
    assert sum("Another process is building the demo assets" in o for o in outs) == 1, outs
    folder = tmp_path / "demo-v2-pretrain0"
    assert all(o.strip().endswith(str(folder)) for o in outs) and (folder / ".complete").exists()
    assert not list(tmp_path.glob(".demo-build-*"))


def test_a_wrong_step_count_is_one_line_and_exit_2(tmp_path):
    env = {"LORASEARCH_CACHE_DIR": str(tmp_path), "LORASEARCH_DEMO_PRETRAIN_STEPS": "lots"}
    ran = lorasearch(tmp_path, "validate", "-c", str(REPO / "configs" / "demo.json"), env=env)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert "LORASEARCH_DEMO_PRETRAIN_STEPS='lots': give a whole number of steps >= 0" in ran.stderr
    assert not list(tmp_path.iterdir())  # nothing written

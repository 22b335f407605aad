"""`lorasearch evaluate`: its numbers are jiwer's on the saved generations, its intervals and
paired differences tell a clearly worse candidate from an indistinguishable one, the re-ranking
stops only the one that is significantly worse, the strict OCR preset scores as OCR papers do,
and, end to end on a real search, the search never reads a test record, a killed evaluate
resumes from what it wrote, and the test split is scored only for the confirmed trial."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import jiwer
import pytest
from conftest import write_json

from lorasearch_tui.config import Normalize, TrainParams
from lorasearch_tui.config._objective import NORMALIZE_PRESETS
from lorasearch_tui.evaluation import (
    BASE,
    Candidate,
    Generation,
    generations_file,
    paired,
    read_generations,
    score,
    score_record,
    summarize,
    to_stop,
    worse_p,
)
from lorasearch_tui.evaluation._generations import append_generations
from lorasearch_tui.scores import normalized
from lorasearch_tui.training._scoring import score as search_score

PAIRS = [
    ("the cat sat", "the cat sat"),
    ("the cat", "the bat sat down"),
    ("", "abc"),
    ("hello world", "helo wrld"),
    ("12345", "1234"),
    ("a b c d e f", "a c e"),
    ("x", ""),
]


def test_the_scores_are_jiwers_on_the_same_texts():
    predictions = [p for p, _ in PAIRS]
    references = [r for _, r in PAIRS]
    scores = [score_record(i, p, r) for i, (p, r) in enumerate(PAIRS)]
    summary = summarize(scores)
    refs = [r or "\u2205" for r in references]  # an empty reference is one character, as in the search
    assert summary["cer"]["value"] == pytest.approx(jiwer.cer(refs, predictions))
    assert summary["wer"]["value"] == pytest.approx(jiwer.wer(refs, predictions))
    per_record = [jiwer.cer(r, p) for p, r in zip(predictions, refs, strict=True)]
    assert summary["cer_mean"]["value"] == pytest.approx(sum(per_record) / len(per_record))
    assert summary["exact_match"]["value"] == pytest.approx(1 / len(PAIRS))
    # bag of characters: "abxd" holds 3 of "abcd"'s 4 characters, in any order
    assert score_record(0, "dxba", "abcd").char_f1 == pytest.approx(2 * 3 / 8)
    blank = score_record(0, "", "")  # a blank page read blank is right, as the search's evals say
    assert (blank.char_edits, blank.exact, blank.char_f1) == (0, True, 1.0)
    assert search_score("cer", [""], [""]) == 0.0 and search_score("exact_match", [""], [""]) == 1.0
    for metric, m in summary.items():
        assert m["low"] <= m["value"] <= m["high"], metric


def test_the_strict_preset_scores_cjk_ocr_as_published():
    strict = Normalize(**NORMALIZE_PRESETS["ocr_strict"])
    prediction, reference = normalized("第 1 頁，共 2 頁。", strict), normalized("第1頁 共2頁", strict)
    assert score_record(0, prediction, reference).char_edits == 0
    # every punctuation category: brackets, dashes, quotes, not only the Po of ，and 。
    bracketed = normalized("「第 1 頁」—（共 2 頁）“完”", strict)
    assert score_record(0, bracketed, normalized("第1頁共2頁完", strict)).char_edits == 0
    plain = Normalize()
    assert (
        score_record(0, normalized("第 1 頁，共 2 頁。", plain), normalized("第1頁 共2頁", plain)).char_edits
        > 0
    )


def _scores(cers, seed=0):
    """Records of 10 characters with the given number of wrong ones each."""
    return [score_record(i, "x" * e + "a" * (10 - e), "a" * 10) for i, e in enumerate(cers)]


def test_a_paired_interval_tells_a_clearly_worse_candidate_from_an_equal_one():
    rng = random.Random(0)
    good = [rng.choice([0, 0, 1]) for _ in range(60)]
    bad = [e + rng.choice([2, 3, 4]) for e in good]
    verdict = paired(_scores(bad), _scores(good))["cer"]
    assert verdict["worse"] and not verdict["better"] and verdict["low"] > 0
    assert paired(_scores(good), _scores(bad))["cer"]["better"]
    # the same errors on other records: as good on average, nothing to tell them apart
    # a candidate one character worse on every record, on records of very different difficulty:
    # paired, that is certain; compared as two independent samples, it would drown in the spread
    spread = [i % 9 for i in range(40)]
    one_worse = paired(_scores([e + 1 for e in spread]), _scores(spread))["cer"]
    assert one_worse["worse"] and one_worse["high"] - one_worse["low"] < 0.02
    shuffled = good[:]
    rng.shuffle(shuffled)
    same = paired(_scores(shuffled), _scores(good))["cer"]
    assert not same["worse"] and not same["better"] and same["low"] <= 0 <= same["high"]


def test_the_rerank_stops_only_the_significantly_worse_and_never_on_ties():
    rng = random.Random(1)
    leader = {i: rng.choice([0.0, 0.1]) for i in range(24)}
    worse = {i: v + 0.3 for i, v in leader.items()}
    alike = {i: rng.choice([0.0, 0.1]) for i in range(24)}
    stops = to_stop({"leader": leader, "worse": worse, "alike": alike})
    assert list(stops) == ["worse"] and stops["worse"] < 0.05
    assert worse_p(leader, dict(leader)) is None  # exact ties carry no information
    # better than the leader on most records, much worse on a few: not the leader (its mean is
    # higher), yet never stopped, since it is not worse on most records
    steady = {i: 0.2 for i in range(40)}
    uneven = {i: 0.1 if i < 34 else 1.0 for i in range(40)}
    assert to_stop({"steady": steady, "uneven": uneven}) == {}
    assert to_stop({"a": leader, "b": dict(leader)}) == {}
    # too few records differ to say anything yet
    assert worse_p({i: 0.0 for i in range(5)}, {i: 1.0 for i in range(5)}) is None


def _candidate(tmp_path, name, trial):
    folder = tmp_path / name.replace(" ", "_")
    return Candidate(name, trial, None if trial is None else folder / "adapter", folder, TrainParams())


def _write(candidate, split, pairs):
    append_generations(
        generations_file(candidate.folder, split),
        [Generation(i, p, r, p, r) for i, (p, r) in pairs],
    )


def test_the_summary_is_recomputed_from_the_generation_files(tmp_path):
    rng = random.Random(2)
    refs = ["".join(rng.choice("abcdef") for _ in range(rng.randint(5, 15))) for _ in range(40)]

    def noisy(text, rate):
        return "".join(c if rng.random() > rate else "z" for c in text)

    good, worse, base = (
        _candidate(tmp_path, n, t) for n, t in (("trial 3", 3), ("trial 1", 1), (BASE, None))
    )
    _write(good, "val", [(i, (noisy(r, 0.05), r)) for i, r in enumerate(refs)])
    _write(worse, "val", [(i, (noisy(r, 0.6), r)) for i, r in enumerate(refs[:16])])  # stopped at 16
    _write(base, "val", [(i, (noisy(r, 0.9), r)) for i, r in enumerate(refs)])
    summary = score([good, worse, base], "val", list(range(40)), {"trial 1": {"records": 16, "p": 0.01}})
    assert summary["best"] == "trial 3" and summary["generations_saved"] == 24
    rows = {row["name"]: row for row in summary["candidates"]}
    assert rows["trial 1"]["stopped_early"] == {"records": 16, "p": 0.01}
    for candidate in (good, worse, base):
        rows_read = read_generations(generations_file(candidate.folder, "val"))
        expected = jiwer.cer([g.reference for g in rows_read], [g.prediction for g in rows_read])
        assert rows[candidate.name]["metrics"]["cer"]["value"] == pytest.approx(expected)
    assert rows["trial 3"]["vs_base"]["cer"]["better"]
    assert rows["trial 1"]["vs_best"]["cer"]["worse"] and rows["trial 1"]["vs_best"]["cer"]["records"] == 16


def test_a_cut_last_line_is_generated_again(tmp_path):
    path = tmp_path / "val_generations.jsonl"
    append_generations(path, [Generation(0, "a", "a", "a", "a"), Generation(1, "b", "b", "b", "b")])
    with path.open("a", encoding="utf-8") as out:
        out.write('{"record": 2, "predic')  # a kill in the middle of a write
    assert [g.record for g in read_generations(path)] == [0, 1]
    append_generations(path, [Generation(2, "c", "c", "c", "c")])
    assert [g.record for g in read_generations(path)] == [0, 1, 2]


def test_bad_requests_are_one_line_before_any_model_loads(demo_data, tmp_path):
    from lorasearch_tui.errors import UserError
    from lorasearch_tui.evaluation import records_of

    plain = Candidate("trial 0", 0, None, tmp_path, TrainParams(input_data=str(demo_data)))
    with pytest.raises(
        UserError, match=r"^--split test: the config names no held-out records; set test_split"
    ):
        records_of(plain, "test", None)
    missing = _lorasearch("evaluate", "no_such_study", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no study 'no_such_study'")
    assert "Traceback" not in missing.stderr


def _lorasearch(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_a_search_never_reads_the_test_split_and_evaluate_confirms_then_tests(demo_data, tmp_path):
    from lorasearch_tui.data import load_data

    config = {
        "input_data": str(demo_data),
        "train_split": "train[:80%]",
        "val_split": "train[80%:90%]",
        "test_split": "train[90%:]",
        "max_seq_length": 256,
        "per_device_train_batch_size": 4,
        "max_steps": 6,
        "eval_steps": 3,
        "objective": {"metric": "cer", "eval_samples": 6},
        "base_output_dir": str(tmp_path / "models"),
        "search_space": {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 0.5}},
    }
    write_json(tmp_path / "c.json", config)
    ran = _lorasearch(
        "search",
        "--config",
        "c.json",
        "--n-trials",
        "3",
        "--study-name",
        "ev",
        "--no-tui",
        "--confirm-top",
        "3",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # the search ends with the re-ranking on val and the confirmed trial and the base on test
    assert "confirmed: trial " in ran.stdout and "test split, 30 records" in ran.stdout, ran.stdout
    params = TrainParams(**{k: v for k, v in config.items() if k != "search_space"})
    held = load_data(params, decode_images=False, with_test=True)
    test_ids, val_ids = {e.index for e in held.test}, {e.index for e in held.val}
    scored = {
        json.loads(line)["record"]
        for f in (tmp_path / "models" / "ev").glob("trial_*/generations.jsonl")
        for line in f.read_text(encoding="utf-8").splitlines()
    }
    assert scored and scored <= val_ids and not scored & test_ids  # the search scored val records only

    evaluation = tmp_path / "optuna_studies" / "ev_evaluation.json"
    summary = json.loads(evaluation.read_text(encoding="utf-8"))["val"]
    assert [r["name"] for r in summary["candidates"]][-1] == BASE and len(summary["candidates"]) == 4
    assert all(set(r["params"]) == {"learning_rate"} for r in summary["candidates"][:-1])
    for row in summary["candidates"]:
        gens = read_generations(Path(row["generations"]))
        assert {g.record for g in gens} <= val_ids
        assert row["metrics"]["cer"]["value"] == pytest.approx(
            jiwer.cer([g.reference or "\u2205" for g in gens], [g.prediction for g in gens])
        )
    confirmed = json.loads(
        (tmp_path / "optuna_studies" / "ev_confirmed_config.json").read_text(encoding="utf-8")
    )
    assert "search_space" not in confirmed and confirmed["learning_rate"] > 0

    tested_once = json.loads(evaluation.read_text(encoding="utf-8"))["test"]
    assert [r["name"] for r in tested_once["candidates"]] == [f"trial {summary['best_trial']}", BASE]

    # the test split again: a SIGTERM (as Ctrl+C) keeps what was written, a second run finishes it
    # without redoing it
    for done in (tmp_path / "models" / "ev").glob("*/test_generations.jsonl"):
        done.unlink()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", "evaluate", "ev", "--split", "test", "--batch-size", "2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    best = tmp_path / "models" / "ev" / f"trial_{summary['best_trial']}" / "test_generations.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (
        best.is_file() and best.read_text(encoding="utf-8").count("\n") >= 2
    ):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGTERM)  # as Ctrl+C: the worker stopped, what it wrote kept
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "run it again to resume" in out
    before = best.read_text(encoding="utf-8")
    assert 2 <= before.count("\n") < len(test_ids)
    test = _lorasearch("evaluate", "ev", "--split", "test", "--json", cwd=tmp_path)
    assert test.returncode == 0, test.stdout + test.stderr
    tested = json.loads(test.stdout)
    assert [r["name"] for r in tested["candidates"]] == [f"trial {summary['best_trial']}", BASE]
    assert best.read_text(encoding="utf-8").startswith(before)  # resumed: the first answers kept as written
    assert {g.record for g in read_generations(best)} == test_ids
    assert best.read_text(encoding="utf-8").count("\n") == len(test_ids)  # none generated twice
    stored = json.loads((tmp_path / "optuna_studies" / "ev_evaluation.json").read_text(encoding="utf-8"))
    assert set(stored) == {"val", "test"} and stored["test"]["records"] == len(test_ids)
    wrong_gpu = _lorasearch("evaluate", "ev", "--gpu", "7", cwd=tmp_path)
    assert wrong_gpu.returncode == 2 and wrong_gpu.stderr.startswith("error: --gpu: "), wrong_gpu.stderr
    # the study keeps it: show and export print it
    shown = json.loads(_lorasearch("show", "ev", "--json", cwd=tmp_path).stdout)
    assert shown["evaluation"]["test"]["best_trial"] == summary["best_trial"]
    exported = _lorasearch("export", "ev", "--format", "json", cwd=tmp_path)
    row = next(r for r in json.loads(exported.stdout) if r["number"] == summary["best_trial"])
    assert row["test_cer"] == tested["candidates"][0]["metrics"]["cer"]["value"]
    assert "test split, " in _lorasearch("show", "ev", cwd=tmp_path).stdout


def _eval_answers(folder, steps):
    """A trial folder whose generations.jsonl holds each eval's answers: {step: [errors per record]}."""
    folder.mkdir(parents=True)
    with (folder / "generations.jsonl").open("w", encoding="utf-8") as out:
        for step, errors in steps.items():
            for record, e in enumerate(errors):
                row = {
                    "step": step,
                    "record": record,
                    "prediction": "x" * e + "a" * (10 - e),
                    "reference": "a" * 10,
                }
                out.write(json.dumps(row) + "\n")


def test_the_search_says_which_trials_its_evals_cannot_tell_from_the_best(tmp_path):
    from lorasearch_tui.events import TrialOutcome
    from lorasearch_tui.results import doubt_line
    from lorasearch_tui.results._doubt import search_doubt

    rng = random.Random(3)
    best = [rng.choice([1, 2, 3]) for _ in range(32)]
    close = best[:]
    rng.shuffle(close)  # as good on average, other records wrong
    far = [e + 4 for e in best]
    # trial 0 kept an earlier eval (early stopping): its value is that eval's, not the last one's
    _eval_answers(tmp_path / "t0", {5: best, 10: [e + 1 for e in best]})
    _eval_answers(tmp_path / "t1", {10: close})
    _eval_answers(tmp_path / "t2", {10: far})

    def outcome(n, errors):
        return TrialOutcome(
            n, "COMPLETE", value=sum(errors) / 320, trial_dir=str(tmp_path / f"t{n}"), metric="cer"
        )

    rows = [outcome(0, best), outcome(1, close), outcome(2, far)]
    # ranked by value: 0, 1 (as good), 2 (far): the command reaches trial 1 with --top 2
    doubt = search_doubt(rows, 0, "cer", "minimize")
    assert doubt is not None and doubt.records == 32 and doubt.close == [1]
    assert doubt.interval["value"] == pytest.approx(sum(best) / 320)  # the counted eval, step 5
    assert doubt.interval["low"] < doubt.interval["value"] < doubt.interval["high"]
    line = doubt_line(doubt, "s")
    assert (
        "trial 1: the search cannot tell it from trial 0" in line and "lorasearch evaluate s --top 2" in line
    )
    assert "cannot tell" not in doubt_line(doubt, "s", ties=[0, 1])  # the tie line says it already
    assert search_doubt(rows, 0, "eval_loss", "minimize") is None  # no per-record answers


def test_the_rerank_rarely_stops_an_equally_good_candidate():
    """Three equally good candidates, 64 records in batches of 8, the worker's schedule: at most
    about 5% of re-rankings stop one of them (checked after every batch at 0.05, it was ~75%)."""
    from lorasearch_tui.evaluation._rerank import check_alpha, check_points

    rng = random.Random(4)
    records, batch = 64, 8
    checks = sorted(check_points(records, batch))
    assert checks == [16, 32, 48]
    runs, stopped = 200, 0
    for _ in range(runs):
        cers = {name: {i: rng.choice([0.0, 0.1, 0.2, 0.5]) for i in range(records)} for name in "abc"}
        for seen in checks:
            if to_stop(
                {n: {i: v for i, v in c.items() if i < seen} for n, c in cers.items()}, check_alpha(3)
            ):
                stopped += 1
                break
    assert stopped / runs <= 0.07

"""Searching for what the user measures: CER/WER/exact match on generated answers, token
accuracy, and the direction each one goes.

The scores go through the code the worker uses (`normalized` and `score`), checked against
jiwer by hand; a real search on the demo with `objective: cer` reports CERs at every eval,
prunes on them, and records them everywhere a value is shown, each equal to jiwer on the
answers the trial saved.
"""

from __future__ import annotations

import json

import jiwer
import optuna
import pytest
from helpers.searching import config_file, search

from lorasearch_tui.config import Normalize, parse_config
from lorasearch_tui.errors import UserError
from lorasearch_tui.events import EvalLogged, decode_lines
from lorasearch_tui.scores import normalized
from lorasearch_tui.training import _scoring
from lorasearch_tui.training._scoring import Scorer, score


def test_cer_wer_and_exact_match_of_known_pairs():
    assert score("cer", ["abcd"], ["abce"]) == pytest.approx(0.25)
    assert score("cer", ["abcd", "xy"], ["abce", "xy"]) == pytest.approx(
        jiwer.cer(["abce", "xy"], ["abcd", "xy"])
    )
    assert score("cer", ["abcd", "xy"], ["abce", "xy"]) == pytest.approx(
        1 / 6
    )  # corpus level: 1 edit, 6 chars
    assert score("wer", ["the cat sat"], ["the cat sat down"]) == pytest.approx(0.25)
    assert score("exact_match", ["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert score("cer", ["anything"], [""]) > 0  # an empty reference counts, never divides by zero
    # Edits over the *reference* length, with predictions and references of unequal lengths.
    # Mutation it catches: reference and prediction swapped (these become 1.0 and 1/6).
    assert score("cer", ["ab"], ["abcd"]) == pytest.approx(0.5)  # 2 deletions / 4
    assert score("cer", ["abcdef"], ["abc"]) == pytest.approx(1.0)  # 3 insertions / 3
    assert score("wer", ["the cat"], ["the cat sat down"]) == pytest.approx(0.5)
    assert score("exact_match", ["ab"], ["abc"]) == 0.0


def test_normalization_for_ocr_text():
    default = Normalize()
    assert normalized("  ＡＢＣ　１２３\n\tx  ", default) == "ABC 123 x"  # NFKC, whitespace
    assert normalized("Ab  C", Normalize(lowercase=True)) == "ab c"
    assert normalized(" a  b ", Normalize(strip=False, collapse_whitespace=False, nfkc=False)) == " a  b "


def test_the_strict_ocr_preset_scores_only_the_characters_read():
    """`"normalize": "ocr_strict"`: NFKC, no whitespace, no punctuation (CJK punctuation too) on
    both sides, as OCR results are often published; symbols are characters read, not
    punctuation. The default keeps spaces and punctuation, so the same pair has errors."""
    strict = parse_config({"objective": {"metric": "cer", "normalize": "ocr_strict"}}, "c")
    how = strict.params.objective.normalize
    assert how == Normalize(remove_whitespace=True, remove_punctuation=True)
    reference, prediction = "第 1 頁，共 2 頁。", "第1頁 共2頁"
    assert normalized(reference, how) == normalized(prediction, how) == "第1頁共2頁"
    assert score("cer", [normalized(prediction, how)], [normalized(reference, how)]) == 0.0
    default = Normalize()
    assert score("cer", [normalized(prediction, default)], [normalized(reference, default)]) > 0.3
    assert normalized("Total: $5 + «tax»!", how) == "Total$5+tax"
    assert normalized("a, b", Normalize(remove_punctuation=True)) == "a b"  # whitespace kept
    with pytest.raises(UserError, match="objective.normalize: unknown preset 'strict'; the presets are"):
        parse_config({"objective": {"normalize": "strict"}}, "c.json")


def test_the_objective_block_is_checked_with_its_path():
    def error(raw):
        with pytest.raises(UserError) as caught:
            parse_config(raw, "c.json")
        return str(caught.value)

    assert (
        error({"objective": {"metirc": "cer"}})
        == "c.json: objective.metirc: unknown key; did you mean 'metric'?"
    )
    assert "did you mean 'cer'?" in error({"objective": {"metric": "cre"}})
    assert "objective.eval_samples: must be greater than or equal to 1" in error(
        {"objective": {"eval_samples": 0}}
    )
    assert "search_space.objective: what a search measures cannot be searched" in error(
        {"search_space": {"objective": {"type": "categorical", "choices": ["cer"]}}}
    )
    assert "search_space.report_to: where trials are logged is not a hyperparameter" in error(
        {"search_space": {"report_to": {"type": "categorical", "choices": ["none", "wandb"]}}}
    )  # a worker hides wandb from TRL unless its first trial reports to it
    assert parse_config({"objective": {"metric": "exact_match"}}, "c").params.objective.goal == "maximize"
    assert parse_config({"objective": {"metric": "cer"}}, "c").params.objective.goal == "minimize"


@pytest.mark.slow
def test_a_cer_search_on_the_demo_reports_prunes_and_records_cers(tmp_path):
    space = {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 5e-2}}
    config = config_file(
        tmp_path, space, max_steps=6, eval_steps=3, objective={"metric": "cer", "eval_samples": 4}
    )
    proc = search(
        tmp_path, "-c", str(config), "--study-name", "c", "--n-trials", "2", "--search-mode", "random"
    )
    assert proc.returncode == 0, proc.stderr
    assert "step 3  cer " in proc.stdout  # the console names the metric
    study = optuna.load_study(study_name="c", storage=f"sqlite:///{tmp_path}/optuna_studies/c.db")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    for trial in study.trials:
        folder = tmp_path / "models/hyperparam_search/c" / f"trial_{trial.number}"
        record = json.loads((folder / "trial_results.json").read_text())
        assert record["metric"] == "cer" and record["generate_s"] > 0
        # every eval holds the CER and the eval loss; the pruner was told the CER
        assert [e["step"] for e in record["eval"]] == [0, 3, 6]
        assert all(0 <= e["value"] and e["eval_loss"] > 1 for e in record["eval"])  # a CER, not a loss
        assert trial.intermediate_values == {e["step"]: e["value"] for e in record["eval"] if e["step"] > 0}
        # the reported CER is jiwer's over the answers the trial saved
        rows = [json.loads(x) for x in (folder / "generations.jsonl").read_text().splitlines()]
        last = [r for r in rows if r["step"] == 6]
        assert len(last) == 4 and {r["step"] for r in rows} == {0, 3, 6}
        cer = jiwer.cer([r["reference"] or "\u2205" for r in last], [r["prediction"] for r in last])
        assert trial.value == pytest.approx(cer) == record["value"]
        events = [
            e for e in decode_lines((folder / "metrics.jsonl").read_bytes()) if isinstance(e, EvalLogged)
        ]
        assert [(e.value, e.eval_loss) for e in events] == [
            (e["value"], e["eval_loss"]) for e in record["eval"]
        ]
    best = json.loads((tmp_path / "optuna_studies/c_best_params.json").read_text())
    assert best["metric"] == "cer" and best["direction"] == "minimize"
    assert best["best_value"] == min(t.value for t in study.trials)


@pytest.mark.slow
def test_token_accuracy_is_maximized(tmp_path):
    space = {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 5e-2}}
    config = config_file(tmp_path, space, max_steps=4, eval_steps=2, objective={"metric": "token_accuracy"})
    proc = search(
        tmp_path,
        "-c",
        str(config),
        "--study-name",
        "a",
        "--n-trials",
        "2",
        "--search-mode",
        "random",
        "--pruner",
        "none",
    )
    assert proc.returncode == 0, proc.stderr
    study = optuna.load_study(study_name="a", storage=f"sqlite:///{tmp_path}/optuna_studies/a.db")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert all(0 <= t.value <= 1 for t in study.trials)
    best = json.loads((tmp_path / "optuna_studies/a_best_params.json").read_text())
    assert best["best_value"] == max(t.value for t in study.trials) and best["direction"] == "maximize"


def test_an_eval_in_length_order_scores_each_answer_against_its_record(monkeypatch):
    """The Scorer batches records of like lengths, then puts the answers back in record order.
    The model here reads perfectly (a stand-in `generate` that answers each record's own text),
    so every record scores 0 only if each answer meets its own record again. Mutation it
    catches: the answers put back by position in the sorted order, not by record."""
    from types import SimpleNamespace

    from lorasearch_tui.config import Objective
    from lorasearch_tui.data import Example

    lines = ["a much longer line of text", "ab", "medium line", "x", "another long line here", "mid"]
    examples = [
        Example(i, [_turn("user", "read")], [_turn("assistant", text)]) for i, text in enumerate(lines)
    ]
    batches = []

    def reads_perfectly(base, model, chunk, max_new):
        batches.append([e.index for e in chunk])
        return [e.answer_text() for e in chunk]

    monkeypatch.setattr(_scoring, "generate", reads_perfectly)
    base = SimpleNamespace(tokenizer=lambda text, add_special_tokens: {"input_ids": list(text)})
    model = SimpleNamespace(training=False, eval=lambda: None, train=lambda: None)
    scorer = Scorer(base, SimpleNamespace(val=examples), Objective(metric="cer", eval_samples=6), 2, None)
    assert scorer(model, 10) == 0.0 and scorer.last_scores == (0.0,) * 6
    assert batches == [[3, 1], [5, 2], [4, 0]]  # shortest answers first, two at a time


def _turn(role, text):
    return {"role": role, "content": [{"type": "text", "text": text}]}

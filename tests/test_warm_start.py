"""Warm start from an earlier study: `--warm-start-from STUDY[@URL]` and `--enqueue-top K`
(issue 23, item 2), and the two-stage recipe of the README (item 3).

The searches are real (engine, storage, sampler) with the stand-in worker, whose eval loss is
1/(1 + learning_rate) + 0.1/step: the higher the rate, the better. Earlier studies that need
shapes no search makes (several objectives, other spaces) are written with Optuna directly,
as lorasearch stores them. The two-stage recipe trains the demo for real.
"""

from __future__ import annotations

import math
import re
import shlex
import shutil

import optuna
import pytest
from conftest import REPO, write_json
from helpers.searching import LR_SPACE, lorasearch, run_standin, study_of

from lorasearch_tui.config import parse_config
from lorasearch_tui.errors import UserError
from lorasearch_tui.events import SearchStarted, cells, tied
from lorasearch_tui.store import (
    CONFIG_ATTR,
    add_imported,
    best_trial,
    outcome_of,
    read_warm_start,
    to_distributions,
    trial_counts,
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def by_number(study) -> list:
    return sorted(study.trials, key=lambda t: t.number)


def earlier_study(tmp_path, name: str, config: dict, trials: list[dict], directions=("minimize",)):
    """A finished lorasearch study made with Optuna: `trials` are create_trial's arguments."""
    parsed = parse_config(config, "test")
    storage = f"sqlite:///{tmp_path / 'optuna_studies' / name}.db"
    (tmp_path / "optuna_studies").mkdir(exist_ok=True)
    study = optuna.create_study(study_name=name, storage=storage, directions=list(directions))
    study.set_user_attr(CONFIG_ATTR, parsed.to_dict())
    for trial in trials:
        space = {k: v for k, v in parsed.space.items() if k in trial["params"]}
        study.add_trial(optuna.trial.create_trial(distributions=to_distributions(space), **trial))
    return study


def test_imported_trials_guide_count_toward_nothing_and_are_never_best(tmp_path):
    """Mutations it catches: imported trials counted toward --n-trials (the study would be
    full before it trains); an imported trial named best or tied with the one run here; the
    best set not run because an imported trial holds it (Optuna's own `skip_if_exists`); the
    mark lost on the way to the table; trials imported twice on a resume."""
    run_standin(tmp_path, name="screen", n_trials=4)
    screen = study_of(tmp_path, "screen")
    top = max(screen.trials, key=lambda t: t.params["learning_rate"])  # the best: the highest rate

    finished, full, sink = run_standin(
        tmp_path, name="full", n_trials=2, warm_start_from="screen", enqueue_top=1
    )
    assert finished.reason == "completed"
    trials = by_number(full)
    imported = [t for t in trials if t.user_attrs.get("imported")]
    assert sorted(t.user_attrs["imported"] for t in imported) == [f"screen#{n}" for n in range(4)]
    assert all(t.state.name == "COMPLETE" and "trial_dir" not in t.user_attrs for t in imported)
    own = [t for t in trials if not t.user_attrs.get("imported")]
    assert len(own) == 2 and trial_counts(full)["complete"] == 2
    first = min(own, key=lambda t: t.number)
    assert first.params == top.params and first.user_attrs.get("enqueued")  # the best runs here first
    best = best_trial(full)
    assert best is not None and not best.user_attrs.get("imported")
    outcomes = [outcome_of(t) for t in trials]
    assert tied(best.number, outcomes) == []  # the imported twin of the best is no tie
    row = next(o for o in outcomes if o.imported == f"screen#{top.number}")
    assert cells(row, ["learning_rate"])[0] == f"{row.number} imported from screen#{top.number}"
    started = next(e for e in sink.events if isinstance(e, SearchStarted))
    assert started.warm_start.startswith("4 trials imported from screen")
    assert "best 1 run first" in started.warm_start

    finished, full, _ = run_standin(
        tmp_path, name="full", n_trials=3, resume=True, warm_start_from="screen", enqueue_top=1
    )
    assert finished.reason == "completed"
    assert sum(1 for t in full.trials if t.user_attrs.get("imported")) == 4  # none twice
    assert trial_counts(full)["complete"] == 3


def test_a_better_imported_trial_is_never_best_and_its_set_runs_here_later(tmp_path):
    """The earlier study holds the best value there is (the top of the rate's range): the new
    study's best is still its own trial, before and after a resume that asks for the earlier
    best (`--enqueue-top` on a study that imported it already, whose trial holds that set).
    Mutations it catches: best taken over imported trials; the imported twin of a set taken
    for a set run here."""
    known = write_json(tmp_path / "known.json", [{"learning_rate": 0.1}])
    run_standin(tmp_path, name="screen", n_trials=3, enqueue=str(known))
    finished, full, _ = run_standin(tmp_path, name="full", n_trials=1, warm_start_from="screen")
    assert finished.reason == "completed"
    own = [t for t in by_number(full) if not t.user_attrs.get("imported")]
    assert len(own) == 1 and own[0].params["learning_rate"] < 0.1
    assert best_trial(full).number == own[0].number  # though screen#0 is better
    finished, full, _ = run_standin(
        tmp_path, name="full", n_trials=2, resume=True, warm_start_from="screen", enqueue_top=1
    )
    own = [t for t in by_number(full) if not t.user_attrs.get("imported")]
    assert [t.params["learning_rate"] for t in own][1:] == [0.1] and own[1].user_attrs.get("enqueued")
    assert best_trial(full).number == own[1].number


def test_what_does_not_fit_is_counted_with_its_reason(tmp_path):
    space = {
        "learning_rate": {"type": "loguniform", "low": 0.001, "high": 0.1},
        "lora_r": {"type": "categorical", "choices": [4, 8]},
    }
    trial = {"state": optuna.trial.TrialState.COMPLETE}
    earlier_study(
        tmp_path,
        "screen",
        {"max_steps": 4, "search_space": space},
        [
            {**trial, "value": 0.9, "params": {"learning_rate": 0.05, "lora_r": 8}},  # fits
            {**trial, "value": 0.8, "params": {"learning_rate": 0.002, "lora_r": 8}},  # rate outside
            {**trial, "value": 0.7, "params": {"learning_rate": 0.05, "lora_r": 4}},  # r not 8
            {"state": optuna.trial.TrialState.PRUNED, "params": {"learning_rate": 0.03, "lora_r": 8}},  # fits
            {"state": optuna.trial.TrialState.FAIL, "params": {"learning_rate": 0.03, "lora_r": 8}},  # never
        ],
    )
    here = parse_config({"max_steps": 4, "lora_r": 8, "search_space": LR_SPACE}, "test")
    warm = read_warm_start("screen", here, None, "full", top=3)
    assert [t.user_attrs["imported"] for t in warm.trials] == ["screen#0", "screen#3"]
    assert [t.state.name for t in warm.trials] == ["COMPLETE", "PRUNED"]
    assert warm.skipped == {
        "with learning_rate outside loguniform(0.01, 0.1)": 1,
        "with lora_r searched there, fixed at 8 here": 1,
    }
    assert warm.top == ({"learning_rate": 0.05},)  # the COMPLETE ones that fit, best first
    said = warm.said(2)
    assert "2 trials imported from screen; 2 did not fit: 1 with" in said and "best 1 run first" in said
    wider = {**LR_SPACE, "lora_alpha": {"type": "categorical", "choices": [16, 32]}}
    warm = read_warm_start("screen", parse_config({"max_steps": 4, "search_space": wider}, "t"), None, "x")
    assert warm.trials == ()
    assert warm.skipped == {"with learning_rate outside loguniform(0.01, 0.1)": 1, "without lora_alpha": 3}


def test_a_value_that_meant_something_else_there_is_not_imported(tmp_path):
    """alpha 2 searched as a plain value there is the factor 2 of a rank of 16 here (32): the
    same number, another meaning. Mutation it catches: values compared as drawn only."""
    done = optuna.trial.TrialState.COMPLETE
    plain = {"lora_alpha": {"type": "categorical", "choices": [2, 32]}}
    earlier_study(
        tmp_path,
        "plain",
        {"max_steps": 4, "search_space": plain},
        [{"state": done, "value": 0.5, "params": {"lora_alpha": 2}}],
    )
    multiple = {"lora_alpha": {"type": "multiple_of", "of": "lora_r", "choices": [1, 2]}}
    warm = read_warm_start("plain", parse_config({"max_steps": 4, "search_space": multiple}, "t"), None, "x")
    assert warm.trials == () and warm.skipped == {"with lora_alpha meaning 2 there, 32 here": 1}


def test_several_objectives_are_matched_by_name_and_another_is_refused(tmp_path):
    objectives = [{"metric": "cer"}, {"metric": "peak_memory_gb"}, {"metric": "train_seconds"}]
    config = {"max_steps": 4, "objectives": objectives, "search_space": LR_SPACE}
    done = optuna.trial.TrialState.COMPLETE
    earlier_study(
        tmp_path,
        "three",
        config,
        [{"state": done, "values": [0.3, 2.0, 40.0], "params": {"learning_rate": 0.05}}],
        directions=("minimize", "minimize", "minimize"),
    )
    ours = {**config, "objectives": [{"metric": "cer"}, {"metric": "train_seconds"}]}
    warm = read_warm_start("three", parse_config(ours, "t"), None, "x")
    assert [t.values for t in warm.trials] == [[0.3, 40.0]]
    for objective, expected in (
        ({"metric": "eval_loss"}, "study 'three' measured cer (minimize), peak_memory_gb"),
        ({"metric": "cer", "direction": "maximize"}, "this search cer (maximize)"),
    ):
        other = parse_config({"max_steps": 4, "objective": objective, "search_space": LR_SPACE}, "t")
        with pytest.raises(UserError, match=re.escape(expected)):
            read_warm_start("three", other, None, "x")


def test_a_warm_started_tpe_search_starts_near_the_imported_best(tmp_path):
    """The first proposals of a warm-started TPE search differ from a cold one's with the same
    seed, and fall near the earlier study's best (a learning rate of 0.02 here)."""
    from lorasearch_tui.search._samplers import make_sampler

    space = {"learning_rate": {"type": "loguniform", "low": 0.0001, "high": 1.0}}
    config = {"max_steps": 4, "search_space": space}
    rates = [10 ** (-4 + 4 * i / 15) for i in range(16)]  # 1e-4 .. 1, evenly in log
    done = optuna.trial.TrialState.COMPLETE
    earlier_study(
        tmp_path,
        "screen",
        config,
        [{"state": done, "value": (math.log(r / 0.02)) ** 2, "params": {"learning_rate": r}} for r in rates],
    )
    parsed = parse_config(config, "t")
    warm = read_warm_start("screen", parsed, None, "x")

    def first_proposals(study) -> list[float]:
        study.sampler = make_sampler("bayesian", parsed.space, 7, 0, n_trials=20)
        asked = [study.ask(to_distributions(parsed.space)) for _ in range(3)]
        return [t.params["learning_rate"] for t in asked]

    warmed = optuna.create_study()
    assert add_imported(warmed, warm) == 16 and add_imported(warmed, warm) == 0  # never twice
    near = first_proposals(warmed)
    cold = first_proposals(optuna.create_study())
    assert near != cold
    assert all(abs(math.log(r / 0.02)) < math.log(4) for r in near), near


def test_bad_warm_starts_are_one_line_and_nothing_is_written(tmp_path):
    run_standin(tmp_path, name="screen", n_trials=2)
    config = write_json(tmp_path / "c.json", {"max_steps": 4, "eval_steps": 2, "search_space": LR_SPACE})
    choices = {"learning_rate": {"type": "categorical", "choices": [0.02, 0.05]}}
    grid = write_json(tmp_path / "g.json", {"max_steps": 4, "search_space": choices})
    cer = write_json(
        tmp_path / "cer.json", {"max_steps": 4, "objective": {"metric": "cer"}, "search_space": LR_SPACE}
    )
    cases = [
        (["-c", str(config), "--warm-start-from", "nothing"], "--warm-start-from: no study 'nothing'"),
        (["-c", str(config), "--warm-start-from", "a/b"], "'a/b' is not a study name"),
        (["-c", str(config), "--warm-start-from", "screen@"], "nothing after '@'"),
        (["-c", str(config), "--enqueue-top", "2"], "--enqueue-top: name the study"),
        (["-c", str(config), "--warm-start-from", "new", "--study-name", "new"], "'new' is this study"),
        (["-c", str(grid), "--warm-start-from", "screen", "--search-mode", "grid"], "a grid search runs"),
        (["-c", str(cer), "--warm-start-from", "screen"], "measured eval_loss (minimize), this search cer"),
    ]
    before = sorted(p.name for p in (tmp_path / "optuna_studies").iterdir())
    for args, expected in cases:
        proc = lorasearch(tmp_path, "search", "--no-tui", *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0], (args, proc.stderr)
    assert sorted(p.name for p in (tmp_path / "optuna_studies").iterdir()) == before


def readme_block(title: str) -> list[str]:
    """The `lorasearch` commands of the README's section `title`, as a user would paste them."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"### {title}\n", 1)[1].split("\n#", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.startswith("lorasearch ")]


@pytest.mark.slow
def test_the_two_stage_recipe_of_the_readme_runs_on_the_demo(tmp_path):
    """Screen on a slice of the data, then the full search warm-started from it with its best
    sets run first: the README's commands, as written, with real training."""
    commands = readme_block("Two stages: screen on a slice, confirm on all of it")
    assert len(commands) == 2 and "--warm-start-from" in commands[1], commands
    (tmp_path / "configs").mkdir()
    shutil.copy(REPO / "configs" / "demo.json", tmp_path / "configs" / "demo.json")  # as in a clone
    for command in commands:
        proc = lorasearch(tmp_path, *shlex.split(command)[1:], "--no-tui", timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
    screen_name = re.search(r"--study-name (\S+)", commands[0]).group(1)
    full_name = re.search(r"--study-name (\S+)", commands[1]).group(1)
    top = int(re.search(r"--enqueue-top (\d+)", commands[1]).group(1))
    n_trials = int(re.search(r"--n-trials (\d+)", commands[1]).group(1))
    screen, full = study_of(tmp_path, screen_name), study_of(tmp_path, full_name)
    assert screen.user_attrs[CONFIG_ATTR]["train_split"] == "train[:20%]"
    assert full.user_attrs[CONFIG_ATTR]["train_split"] == "train[:90%]"
    imported = [t for t in full.trials if t.user_attrs.get("imported")]
    fitting = [t for t in screen.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(imported) == len(fitting) > 0
    own = [t for t in by_number(full) if not t.user_attrs.get("imported")]
    assert len(own) == n_trials and trial_counts(full)["complete"] + trial_counts(full)["pruned"] == n_trials
    complete = [t for t in screen.trials if t.state.name == "COMPLETE"]
    ranked = sorted(complete, key=lambda t: (t.value, t.number))
    assert [t.params for t in own[:top]] == [t.params for t in ranked[:top]]
    assert all(t.user_attrs.get("enqueued") for t in own[:top])
    show = lorasearch(tmp_path, "show", full_name)
    assert show.returncode == 0 and f"imported from {screen_name}#" in show.stdout, show.stdout


def test_a_joiner_that_lost_the_race_to_create_the_study_imports_nothing(tmp_path, monkeypatch):
    """Two `--join` runners with the same --warm-start-from: the one whose creation Optuna
    refused (made to happen here: its check misses the study) read the earlier study as a
    creator would, and must import nothing: two runners importing at once could both find a
    trial absent. Mutation it catches: the warm start it read kept after it lost."""
    from lorasearch_tui.store import _study

    run_standin(tmp_path, name="screen", n_trials=3)
    run_standin(tmp_path, name="full", n_trials=1, join=True, warm_start_from="screen")
    shutil.rmtree(tmp_path / "out" / "full")  # as a racer sees it: no trial folder yet
    exists = _study.study_exists
    monkeypatch.setattr(
        _study, "study_exists", lambda name, storage: name != "full" and exists(name, storage)
    )
    finished, full, sink = run_standin(tmp_path, name="full", n_trials=2, join=True, warm_start_from="screen")
    assert finished.reason == "completed"
    started = next(e for e in sink.events if isinstance(e, SearchStarted))
    assert started.resumed and started.warm_start == ""
    assert sum(1 for t in full.trials if t.user_attrs.get("imported")) == 3

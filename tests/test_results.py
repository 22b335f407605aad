"""Looking at a study after the search: studies, show, export, plot, report, dashboard.

On real studies the search engine made (stand-in worker: the trials are fast, the study, its
attributes and files are the engine's own), through the CLI as a user runs it. Content is
checked, not only exit codes: one CSV row per trial with the study's states, PNGs that are
images, a report that holds the plots' data and loads nothing from the network.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
from helpers.searching import run_standin
from PIL import Image
from typer.testing import CliRunner

from lorasearch_tui.cli import app

SPACE = {
    "learning_rate": {"type": "loguniform", "low": 0.001, "high": 0.5},
    "lora_r": {"type": "categorical", "choices": [4, 8, 16]},
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished study of 8 trials (some pruned) in a folder of its own; the cwd there."""
    folder = tmp_path_factory.mktemp("looked")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        run_standin(
            folder,
            "good",
            name="look",
            space=SPACE,
            n_trials=8,
            mode="random",
            pruner="median",
            fixed={"max_steps": 6, "eval_steps": 2},
        )
    finally:
        os.chdir(cwd)
    return folder


def cli(folder, *args):
    """Run the CLI in `folder`; (exit code, stdout, stderr)."""
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(cwd)
    return result.exit_code, result.stdout, result.stderr


def study_of(folder):
    return optuna.load_study(study_name="look", storage=f"sqlite:///{folder}/optuna_studies/look.db")


def test_studies_lists_the_study_with_its_counts_and_best(finished):
    code, out, _ = cli(finished, "studies")
    best = min(t.value for t in study_of(finished).trials if t.value is not None)
    assert code == 0
    line = next(x for x in out.splitlines() if "look" in x)
    assert "8/8" in line and f"{best:.4f}" in line and "not running" in line and "random/median" in line


def test_show_json_is_the_study(finished):
    code, out, _ = cli(finished, "show", "look", "--json")
    assert code == 0
    shown = json.loads(out)
    study = study_of(finished)
    assert [t["number"] for t in shown["trials"]] == [t.number for t in study.trials]
    assert [t["state"] for t in shown["trials"]] == [t.state.name for t in study.trials]
    assert shown["counts"]["complete"] + shown["counts"]["pruned"] == 8
    assert shown["best"]["number"] == study.best_trial.number and shown["best"]["params"] == study.best_params
    assert shown["best"]["train_command"] == "lorasearch train --config optuna_studies/look_best_config.json"
    assert shown["best"]["adapter"].endswith(f"look/trial_{study.best_trial.number}/adapter")
    assert (
        set(shown["importances"]["values"]) == set(SPACE) and "PED-ANOVA" in shown["importances"]["evaluator"]
    )
    # the stand-in's eval loss is 1/(1 + learning_rate) + 0.1/step: lora_r does not matter
    assert shown["importances"]["values"]["learning_rate"] > shown["importances"]["values"]["lora_r"]


def test_show_draws_the_table_sorted_the_best_and_its_command(finished):
    code, out, _ = cli(finished, "show", "look", "--sort", "value")
    assert code == 0
    study = study_of(finished)
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert rows[0].split("│")[1].strip() == str(study.best_trial.number)  # best value first
    assert "train it: lorasearch train --config optuna_studies/look_best_config.json" in out
    assert "Parameter importances (PED-ANOVA" in out and "learning_rate" in out
    code, _, err = cli(finished, "show", "look", "--sort", "colour")
    # a choice Typer checks (and lists in --help) before the command runs
    assert code == 2 and "'colour' is not one of 'number', 'value', 'duration', 'state'" in err
    code, _, err = cli(finished, "export", "look", "--format", "xls")
    assert code == 2 and "Invalid value for '--format': Value error, 'xls' is not one of 'csv', 'json'" in err


def test_export_csv_and_json_have_one_row_per_trial(finished, tmp_path):
    study = study_of(finished)
    code, out, _ = cli(finished, "export", "look")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["number"]) for r in rows] == [t.number for t in study.trials]
    assert [r["state"] for r in rows] == [t.state.name for t in study.trials]
    for row, trial in zip(rows, study.trials, strict=True):
        assert float(row["param_learning_rate"]) == pytest.approx(trial.params["learning_rate"])
        assert row["trial_dir"] == trial.user_attrs["trial_dir"]
        assert (row["pruned_at"] or None) == (
            str(trial.user_attrs["pruned_at"]) if "pruned_at" in trial.user_attrs else None
        )
    target = tmp_path / "deep" / "trials.json"
    code, out, _ = cli(finished, "export", "look", "--format", "json", "--out", str(target))
    assert code == 0 and f"wrote {target} (8 trials)" in out
    exported = json.loads(target.read_text())
    # a pruned trial has no value here (Optuna keeps its last eval as one): only COMPLETE has
    assert [r["value"] for r in exported] == [
        t.value if t.state.name == "COMPLETE" else None for t in study.trials
    ]


def test_plot_writes_real_images_and_offline_html(finished, tmp_path):
    code, out, _ = cli(finished, "plot", "look", "--out", str(tmp_path))
    assert code == 0
    for name in ("history", "importances", "parallel", "slice", "intermediate", "timeline"):
        with Image.open(tmp_path / f"{name}.png") as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 400 and image.size[1] > 300
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        page = (tmp_path / f"{name}.html").read_text()
        assert "Plotly.newPlot" in page and '<script src="http' not in page
    assert (tmp_path / "contour.html").exists()  # its PNG needs scipy, which may be missing
    intermediate = (tmp_path / "intermediate.html").read_text()
    assert intermediate.count('"name":"Trial') >= 8  # every trial's curve, pruned ones too


def test_plots_that_need_more_trials_are_skipped_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_standin(tmp_path, "good", name="small", space=SPACE, n_trials=2, mode="random", pruner="none")
    code, out, _ = cli(tmp_path, "plot", "small", "--format", "png")
    assert code == 0
    assert "skipped importances: needs 3 complete trials, the study has 2" in out
    assert "skipped contour: needs 3 complete trials, the study has 2" in out
    assert (tmp_path / "optuna_studies/small_plots/history.png").exists()


def test_report_is_one_offline_page_with_everything(finished, tmp_path):
    out_file = tmp_path / "r.html"
    code, out, _ = cli(finished, "report", "look", "--out", str(out_file))
    assert code == 0 and f"wrote {out_file}" in out
    page = out_file.read_text()
    study = study_of(finished)
    assert '<script src="http' not in page and "https://cdn" not in page.split("</script>", 1)[1]
    assert page.count("Plotly.newPlot") >= 7  # six plots and the best trial's curves at least
    assert "lorasearch train --config optuna_studies/look_best_config.json" in page
    assert f"{study.best_value:.4f} (#{study.best_trial.number})" in page
    assert all(re.search(rf'<td class="">{t.number}( ★)?</td>', page) for t in study.trials)
    assert "Train and eval loss of the best trial" in page and '"name":"train loss"' in page


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["show", "nope"], "no study 'nope': optuna_studies/nope.db does not exist; `lorasearch studies`"),
        (
            ["show", "look", "--storage", "sqlite:///optuna_studies/look_best_params.json"],
            "file is not a database",
        ),
        (["export", "look", "--storage", "sqlite:////nonexistent/x.db"], "x.db"),
        (["plot", "empty"], "study 'empty' has no trials yet"),
        (["report", "empty"], "study 'empty' has no trials yet"),
    ],
)
def test_nothing_to_look_at_is_one_line_and_exit_2(finished, args, says):
    storage = f"sqlite:///{finished}/optuna_studies/empty.db"
    empty = optuna.create_study(study_name="empty", storage=storage, load_if_exists=True)
    config = json.loads((finished / "optuna_studies/look_best_config.json").read_text())
    empty.set_user_attr("lorasearch_config", config)
    code, out, err = cli(finished, *args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err


def test_the_best_files_hold_the_best_trial_and_its_parameters(finished):
    """The best file names the study's best trial with its value, and the best config holds
    its parameters, nothing searched left in it.

    Mutation it catches: the best config written with another trial's parameters."""
    study = optuna.load_study(study_name="look", storage=f"sqlite:///{finished}/optuna_studies/look.db")
    best = json.loads((finished / "optuna_studies/look_best_params.json").read_text())
    assert best["best_trial"] == study.best_trial.number != 0  # not the first: a wrong pick shows
    assert best["best_value"] == study.best_value and best["best_params"] == study.best_params
    config = json.loads((finished / "optuna_studies/look_best_config.json").read_text())
    assert "search_space" not in config
    assert {name: config[name] for name in study.best_params} == study.best_params


def test_best_params_names_the_adapter_and_the_report(finished):
    best = json.loads((finished / "optuna_studies/look_best_params.json").read_text())
    assert best["adapter"] == os.path.join(best["best_trial_dir"], "adapter")
    assert best["report"] == "optuna_studies/look_report.html"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_serves_the_study_on_localhost(finished):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", "dashboard", "look", "--port", str(port)],
        cwd=finished,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, studies = time.monotonic() + 60, None
        while time.monotonic() < deadline and studies is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as answer:
                    studies = json.loads(answer.read())
            except OSError:
                time.sleep(0.3)
        assert studies is not None, "the dashboard did not answer"
        assert [s["study_name"] for s in studies["study_summaries"]] == ["look"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"ssh -N -L {port}:127.0.0.1:{port}" in out


REPORT_THEN_PNG = """
import sys
from typer.testing import CliRunner
from lorasearch_tui.cli import app
report = CliRunner().invoke(app, ["report", "look", "--out", sys.argv[1] + "/r.html"])
print(report.exit_code, "matplotlib" in sys.modules)
png = CliRunner().invoke(app, ["plot", "look", "--format", "png", "--out", sys.argv[1]])
print(png.exit_code, (__import__("pathlib").Path(sys.argv[1]) / "history.png").exists())
"""


def test_the_report_imports_no_matplotlib_and_a_png_after_it_still_draws(finished, tmp_path):
    """The report (a search's last act) skips matplotlib's import; the PNGs still get it.

    Mutations: `plotly_plots` without marking matplotlib absent (True after the report); without
    dropping Optuna's half-imported matplotlib twin (no PNG).
    """
    run = subprocess.run(
        [sys.executable, "-c", REPORT_THEN_PNG, str(tmp_path)],
        cwd=finished,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.stdout.split() == ["0", "False", "0", "True"], run.stdout + run.stderr[-3000:]

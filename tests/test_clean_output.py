"""A clean run prints only lorasearch's own lines: nothing that a library says on the way.

The report at the end of every search draws Optuna's plots, and Optuna's plotting logs notes of
its own ("[W ...] Param lora_r unique value length is less than 2." when every trial drew one
value of a parameter); `lorasearch demo` ended with that line. The study here is made fast with
the stand-in worker, as in test_results.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from helpers.searching import run_standin
from typer.testing import CliRunner

from lorasearch_tui.cli import app

# lora_r has one choice: every trial draws the same value, and the contour over it is drawn.
ONE_VALUE_SPACE = {
    "learning_rate": {"type": "loguniform", "low": 0.001, "high": 0.5},
    "lora_r": {"type": "categorical", "choices": [8]},
}


class _Kept(logging.Handler):
    """Every record Optuna's loggers let through (Optuna's root logger does not propagate, so
    pytest's caplog would not see them)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def one_value_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_standin(tmp_path, "good", name="same", space=ONE_VALUE_SPACE, n_trials=3, mode="random")
    return tmp_path


@pytest.mark.parametrize("args", [["report", "same"], ["plot", "same", "--format", "both"]])
def test_plots_of_a_parameter_with_one_value_say_nothing_of_optuna_s(one_value_study, capfd, args):
    kept = _Kept()
    optuna_logger = logging.getLogger("optuna")
    optuna_logger.addHandler(kept)
    try:
        capfd.readouterr()  # what the search said is not under test here
        result = CliRunner().invoke(app, args)
    finally:
        optuna_logger.removeHandler(kept)
    assert result.exit_code == 0, result.output
    said = result.stdout + result.stderr + "".join(capfd.readouterr())
    assert "unique value length" not in said and "[W " not in said, said
    assert [r.getMessage() for r in kept.records if r.levelno >= logging.WARNING] == []
    assert os.listdir(one_value_study / "optuna_studies")  # the report or plots were written
    # quieting is for the drawing only: Optuna's loggers are as they were
    assert logging.getLogger("optuna.visualization").level == logging.NOTSET


def test_the_report_command_prints_only_its_own_line(one_value_study):
    """As a user sees it: a real process, its stderr empty, its stdout the one line it writes."""
    proc = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", "report", "same"],
        cwd=one_value_study,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip().splitlines() == [proc.stdout.strip()] and "wrote " in proc.stdout, proc.stdout

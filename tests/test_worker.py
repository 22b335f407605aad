"""The trial worker on its own: a reused worker trains exactly as a fresh one, and its pipe
protocol carries a trial from `run` to `finished`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FAST

from lorasearch_tui.config import TrainParams
from lorasearch_tui.search import WorkerProcess

pytestmark = pytest.mark.slow


def run_trial(worker: WorkerProcess, number: int, params: TrainParams, folder: Path) -> dict:
    """Drive one trial through the protocol, never pruning; return the `finished` message."""
    worker.send({"cmd": "run", "trial": number, "params": params.model_dump(), "trial_dir": str(folder)})
    while True:
        message = worker.recv(timeout=300)
        assert message is not None, "the worker went silent"
        if message["event"] == "eval":
            worker.send({"cmd": "decision", "trial": number, "step": message["step"], "prune": False})
        elif message["event"] in ("finished", "failed"):
            assert message["event"] == "finished", message
            return message


def test_a_reused_worker_gives_the_same_eval_loss_as_a_fresh_one(tmp_path):
    params = TrainParams(**{**FAST, "eval_steps": 3}, max_steps=6, lora_dropout=0.1)
    other = params.model_copy(update={"learning_rate": 0.3, "lora_r": 4})
    reused = WorkerProcess(tmp_path / "reused.log")
    reused.start(ready_timeout=300)
    try:
        first = run_trial(reused, 0, params, tmp_path / "t0")["result"]
        run_trial(reused, 1, other, tmp_path / "t1")
        again = run_trial(reused, 2, params, tmp_path / "t2")["result"]
    finally:
        reused.stop()
    fresh = WorkerProcess(tmp_path / "fresh.log")
    fresh.start(ready_timeout=300)
    try:
        alone = run_trial(fresh, 0, params, tmp_path / "f0")["result"]
    finally:
        fresh.stop()
    assert again["eval_loss"] == pytest.approx(first["eval_loss"], abs=1e-5)
    assert alone["eval_loss"] == pytest.approx(first["eval_loss"], abs=1e-5)
    assert [h["loss"] for h in again["train_history"]] == pytest.approx(
        [h["loss"] for h in alone["train_history"]], abs=1e-5
    )
    assert (tmp_path / "t0" / "adapter" / "adapter_config.json").is_file()
    # One model load served all three trials.
    assert (tmp_path / "reused.log").read_text().count("Loading ") == 1


def test_the_worker_exits_when_the_parent_closes_its_pipe(tmp_path):
    worker = WorkerProcess(tmp_path / "w.log")
    worker.start(ready_timeout=300)
    proc = worker._proc
    worker._close()  # as if the parent died: the worker reads EOF
    assert proc.wait(timeout=30) == 0

"""The trial worker on its own: a reused worker trains exactly as a fresh one, and its pipe
protocol carries a trial from `run` to `finished`."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import FAST

from lorasearch_tui.config import TrainParams
from lorasearch_tui.worker import Decision, Run, WorkerProcess

pytestmark = pytest.mark.slow


def run_trial(worker: WorkerProcess, number: int, params: TrainParams, folder: Path) -> dict:
    """Drive one trial through the protocol, never pruning; return the `finished` message with
    the train losses of its `step` messages."""
    worker.send(Run(trial=number, params=params.model_dump(), trial_dir=str(folder)))
    losses = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        message = worker.recv(timeout=1)
        if message is None:
            continue
        if message.event == "step":
            losses.append(message.loss)
        elif message.event == "eval":
            worker.send(Decision(trial=number, step=message.step, prune=False))
        elif message.event in ("finished", "failed"):
            assert message.event == "finished", message
            return {**asdict(message), "losses": losses}
    raise AssertionError("the worker went silent")


def test_a_reused_worker_gives_the_same_eval_loss_as_a_fresh_one(tmp_path):
    params = TrainParams(**{**FAST, "eval_steps": 3}, max_steps=6, lora_dropout=0.1)
    other = params.model_copy(update={"learning_rate": 0.3, "lora_r": 4})
    reused = WorkerProcess(tmp_path / "reused.log")
    reused.start(ready_timeout=300)
    try:
        first = run_trial(reused, 0, params, tmp_path / "t0")
        run_trial(reused, 1, other, tmp_path / "t1")
        again = run_trial(reused, 2, params, tmp_path / "t2")
    finally:
        reused.stop()
    fresh = WorkerProcess(tmp_path / "fresh.log")
    fresh.start(ready_timeout=300)
    try:
        alone = run_trial(fresh, 0, params, tmp_path / "f0")
    finally:
        fresh.stop()
    import torch

    # Bit-for-bit on a CPU; CUDA's bf16 and 4-bit kernels are not deterministic: 1% there.
    same = {"rel": 1e-2} if torch.cuda.is_available() else {"abs": 1e-5}
    assert again["result"]["eval_loss"] == pytest.approx(first["result"]["eval_loss"], **same)
    assert alone["result"]["eval_loss"] == pytest.approx(first["result"]["eval_loss"], **same)
    assert len(again["losses"]) == 6
    assert again["losses"] == pytest.approx(alone["losses"], **same)
    assert (tmp_path / "t0" / "adapter" / "adapter_config.json").is_file()
    # One model load served all three trials.
    assert (tmp_path / "reused.log").read_text().count("Loading ") == 1


def test_the_worker_exits_when_the_parent_closes_its_pipe(tmp_path):
    worker = WorkerProcess(tmp_path / "w.log")
    worker.start(ready_timeout=300)
    proc = worker._proc
    worker._close()  # as if the parent died: the worker reads EOF
    assert proc.wait(timeout=30) == 0


def test_five_trials_leave_the_base_model_exactly_as_loaded(tmp_path):
    """No stacked forward wrappers (TRL's fused LM head), no leftover hooks (one
    `enable_input_require_grads` hook per trial before), no adapter modules, nothing trainable."""
    from lorasearch_tui.data import load_data
    from lorasearch_tui.training import base_signature, load_base, lora_adapter, run_training

    params = TrainParams(**{**FAST, "eval_steps": 2}, max_steps=2)
    data = load_data(params)
    base = load_base(params)
    loaded = base_signature(base.model)
    for trial in range(5):
        with lora_adapter(base, params.model_copy(update={"lora_r": 4 + trial})) as model:
            run_training(base, model, params, data, tmp_path / f"t{trial}")
        assert base_signature(base.model) == loaded, f"after trial {trial}"
        assert "forward" not in vars(base.model)  # the class's own forward, unwrapped


class _Parent:
    """The parent's end of a worker run in this process: answers every eval with 'go on'."""

    def __init__(self) -> None:
        import threading

        from lorasearch_tui.worker import Channel, decode_command, decode_message

        to_worker_r, to_worker_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        self.worker_channel = Channel(to_worker_r, to_parent_w, decode_command)
        self._channel = Channel(to_parent_r, to_worker_w, decode_message)
        self.messages: list = []
        threading.Thread(target=self._answer, daemon=True).start()

    def _answer(self) -> None:
        while True:
            try:
                message = self._channel.recv(timeout=None)
            except (EOFError, OSError):
                return
            self.messages.append(message)
            if message.event == "eval":
                self._channel.send(Decision(trial=message.number, step=message.step, prune=False))


def test_a_diverged_trial_frees_its_trainer_before_freeing_memory(tmp_path, monkeypatch):
    """When the worker frees memory after a failure (gc + CUDA's empty_cache), the trainer must
    already be unreachable: freed while the exception's frames still held it, its tensors
    would stay allocated."""
    import gc

    from lorasearch_tui.worker import _loop

    alive_when_freeing = []
    free_memory = _loop._free_memory

    def observed(torch) -> None:
        free_memory(torch)
        alive_when_freeing.append(sum(type(o).__name__ == "SFTTrainer" for o in gc.get_objects()))

    monkeypatch.setattr(_loop, "_free_memory", observed)
    monkeypatch.setenv("LORASEARCH_INJECT_FAULT", "diverge@0:2")
    parent = _Parent()
    worker = _loop.Worker(parent.worker_channel)
    params = TrainParams(**{**FAST, "eval_steps": 2}, max_steps=4)
    assert worker._run(Run(trial=0, params=params.model_dump(), trial_dir=str(tmp_path / "t0")))
    # twice: right after the base model loaded (the memory guard's reference), then after the
    # trial; neither may find a trainer alive
    assert alive_when_freeing == [0, 0]
    deadline = time.monotonic() + 10
    while not any(m.event == "failed" for m in parent.messages) and time.monotonic() < deadline:
        time.sleep(0.05)
    failed = [m for m in parent.messages if m.event == "failed"]
    assert failed and failed[0].kind == "diverged"
    assert failed[0].reason == "diverged: train loss became nan at step 2"


def test_five_trials_in_one_real_worker_never_find_the_base_changed(tmp_path):
    """The worker compares the base with its signature after every trial and ends if it
    changed; five trials in one process, one model load, no warning, the same pid."""
    params = TrainParams(**{**FAST, "eval_steps": 2}, max_steps=2)
    worker = WorkerProcess(tmp_path / "w.log")
    worker.start(ready_timeout=300)
    pid = worker.pid
    try:
        for trial in range(5):
            run_trial(worker, trial, params.model_copy(update={"lora_r": 4 + trial}), tmp_path / f"t{trial}")
            assert worker.alive() and worker.pid == pid
    finally:
        worker.stop()
    log = (tmp_path / "w.log").read_text()
    assert log.count("Loading ") == 1 and "the base model changed" not in log


def test_a_worker_hides_wandb_unless_its_trials_report_to_it():
    """TRL imports wandb whenever it is installed, reporting or not (0.6 s of every worker's
    start); a worker whose trials do not report to W&B marks it absent before TRL is imported
    (find_spec, TRL's and Transformers' test, then finds nothing), and one whose trials do
    leaves it. Mutations: the `report_to` check dropped -> a W&B run cannot find wandb; the
    hiding dropped -> TRL imports it."""
    import subprocess
    import sys

    pytest.importorskip("wandb")  # a test dependency; without it there is nothing to hide
    code = (
        "import importlib.util, sys\n"
        "from lorasearch_tui.config import TrainParams\n"
        "from lorasearch_tui.worker._loop import _hide_unused_wandb\n"
        "_hide_unused_wandb(TrainParams(report_to=sys.argv[1]))\n"
        "try:\n    import wandb\nexcept ImportError:\n    wandb = None\n"
        "print(importlib.util.find_spec('wandb') is not None, wandb is not None)\n"
    )
    for report_to, seen in (("none", ["False", "False"]), ("wandb", ["True", "True"])):
        done = subprocess.run(
            [sys.executable, "-c", code, report_to], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == seen, (report_to, done.stdout)

"""What only a GPU can show: bf16 4-bit training on CUDA, gradient checkpointing there, a real
CUDA out-of-memory error recorded as OOM, and NVML's sample of the real GPU.

Skipped where there is no CUDA device (the CI machines); `bench/gpu_check.sh` runs them on a
lent GPU machine and puts their outcome in its table.
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import FAST
from helpers.searching import config_file, search

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU (bench/gpu_check.sh)"),
]


def test_demo_trains_in_bf16_4bit_on_cuda_and_learns(tmp_path):
    from lorasearch_tui.config import TrainParams
    from lorasearch_tui.training import train_job

    result = train_job(TrainParams(**FAST, max_steps=15), tmp_path)
    assert (
        result.memory_kind == "gpu"
        and 0 < result.peak_memory_bytes < torch.cuda.get_device_properties(0).total_memory
    )
    assert result.eval_loss < result.initial_eval_loss - 0.5
    assert json.loads((tmp_path / "lorasearch_config.json").read_text())["max_steps"] == 15


def test_gradient_checkpointing_trains_the_same_adapter_with_less_memory(tmp_path):
    from lorasearch_tui.config import TrainParams
    from lorasearch_tui.training import train_job

    plain = train_job(TrainParams(**FAST, max_steps=10, gradient_checkpointing=False), tmp_path / "a")
    checked = train_job(TrainParams(**FAST, max_steps=10, gradient_checkpointing=True), tmp_path / "b")
    assert checked.eval_loss == pytest.approx(plain.eval_loss, rel=2e-2)  # bf16 rounding apart
    assert checked.peak_memory_bytes <= plain.peak_memory_bytes


def test_a_real_cuda_out_of_memory_is_recorded_as_oom_and_the_search_goes_on(tmp_path):
    import optuna

    space = {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-2}}
    config = config_file(tmp_path, space, max_steps=6)
    env = {**os.environ, "LORASEARCH_INJECT_FAULT": "hog@1:2"}
    proc = search(
        tmp_path, "-c", str(config), "--study-name", "g", "--n-trials", "3", "--pruner", "none", env=env
    )
    assert proc.returncode == 0, proc.stderr
    trials = optuna.load_study(study_name="g", storage=f"sqlite:///{tmp_path}/optuna_studies/g.db").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED", "COMPLETE"]
    oom = trials[1]
    assert oom.user_attrs["oom"] and oom.user_attrs["fail_reason"].startswith("out of memory (peak ")
    assert oom.user_attrs.get("peak_memory_bytes", 1) > 0
    assert "OOM" in proc.stdout


def test_the_gpu_pane_samples_the_real_gpu():
    from lorasearch_tui.hardware import Nvml, sample_hardware

    sample = sample_hardware(Nvml(), os.getpid())
    assert sample.gpus, sample.note
    gpu = sample.gpus[0]
    assert (
        "NVIDIA" in gpu["name"]
        and gpu["total_bytes"] > 10 * 2**30
        and 0 <= gpu["used_bytes"] <= gpu["total_bytes"]
    )
    assert gpu.get("utilization") is not None and gpu.get("temperature_c") is not None


def test_batch_fit_fills_the_gpu_at_the_same_effective_batch(tmp_path):
    """1 x 8 as given: on an H200 the tiny demo fits all 8 in one micro-batch, and learns what
    the user's 1 x 8 learns (bf16 rounding apart)."""
    from lorasearch_tui.config import TrainParams
    from lorasearch_tui.training import train_job

    given = {**FAST, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 8, "max_steps": 6}
    fitted = train_job(TrainParams(**given), tmp_path / "auto")
    fixed = train_job(TrainParams(**given, batch_fit="fixed"), tmp_path / "fixed")
    assert fitted.batch == "8x1 fitted" and fixed.batch == "1x8"
    assert fitted.eval_loss == pytest.approx(fixed.eval_loss, rel=2e-2)
    assert fitted.tokens_per_s > fixed.tokens_per_s

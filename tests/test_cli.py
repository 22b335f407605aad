"""The commands as a user runs them: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, write_json

SHIPPED = [
    REPO / "configs" / "demo.json",
    REPO / "configs" / "demo_train.json",
    *sorted((REPO / "configs" / "examples").glob("*.json")),
]


def lorasearch(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI as a user would (python -m, so the venv's interpreter is used)."""
    return subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.name)
def test_validate_passes_on_the_shipped_configs(config):
    proc = lorasearch("validate", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout and "train_split 'train[:90%]': 270 examples" in proc.stdout
    assert "Lengths (tokens)" in proc.stdout
    if "search_space" in config.read_text():
        assert "Search space" in proc.stdout and "learning_rate" in proc.stdout


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.name)
def test_validate_fails_in_one_line_on_a_broken_copy(config, tmp_path):
    raw = json.loads(config.read_text())
    raw["max_seq_lenght"] = raw.pop("max_seq_length")
    broken = write_json(tmp_path / config.name, raw)
    line = one_line_error(lorasearch("validate", "--config", str(broken)))
    assert line == f"error: {broken}: max_seq_lenght: unknown key; did you mean 'max_seq_length'?"


def test_validate_reports_grid_size_and_skipped_records(tmp_path):
    rows = [{"instruction": "q", "output": "a"}] * 8 + [{"instruction": "q", "output": ""}] * 2
    data = tmp_path / "d.json"
    data.write_text(json.dumps(rows))
    config = write_json(
        tmp_path / "c.json",
        {
            "input_data": str(data),
            "search_space": {
                "lora_r": {"type": "categorical", "choices": [8, 16]},
                "num_train_epochs": {"type": "int", "low": 1, "high": 3},
            },
        },
    )
    proc = lorasearch("validate", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "Grid size: 6 combinations" in proc.stdout
    assert "skipped: 2 records with empty answer" in proc.stdout


def test_validate_bad_data_and_missing_model_are_one_line(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "q", "output": "a"}\n{"instruction": "q" "output": "a"}\n')
    line = one_line_error(
        lorasearch("validate", "--config", str(write_json(tmp_path / "c.json", {"input_data": str(data)})))
    )
    assert line.startswith(f"error: {data}: invalid JSON at line 2, column 21")
    data.write_text('{"instruction": "q", "output": "a"}\n' * 20)
    config = write_json(tmp_path / "m.json", {"input_data": str(data), "model_name": "google/gemma-3-12b-it"})
    line = one_line_error(lorasearch("validate", "--config", str(config)))
    # a Hub id: the tests are offline, so it must be in the (empty) cache
    assert "model_name: google/gemma-3-12b-it (main) is not in the Hugging Face cache" in line
    assert "set HF_HUB_OFFLINE=0 to download it" in line


@pytest.mark.slow
def test_train_runs_the_demo_config_end_to_end_and_merges(tmp_path, demo_model):
    out = tmp_path / "run"
    proc = lorasearch(
        "train", "--config", str(REPO / "configs" / "demo_train.json"), "--output-dir", str(out), "--merge"
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval_loss"] < metrics["initial_eval_loss"]
    assert "eval loss" in proc.stdout and "tokens/s" in proc.stdout
    assert f"merged 16-bit model saved to {out / 'merged'}" in proc.stdout
    assert_merged(out, demo_model)
    assert "\x1b[" not in proc.stdout  # no ANSI codes when the output is not a terminal
    again = lorasearch(
        "train", "--config", str(REPO / "configs" / "demo_train.json"), "--output-dir", str(out)
    )
    assert "already holds an adapter" in one_line_error(again)


def assert_merged(out: Path, base_folder: Path) -> None:
    """Every adapted weight of `out/merged` is the base weight plus the adapter's scaled B @ A,
    in 16-bit, with no LoRA weights left: a merge that did nothing (or saved the base) fails."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    merged_model = AutoModelForImageTextToText.from_pretrained(out / "merged")
    assert not any("lora" in n for n, _ in merged_model.named_parameters())
    assert next(merged_model.parameters()).dtype == torch.bfloat16
    assert (out / "merged" / "processor_config.json").is_file()
    merged = dict(merged_model.named_modules())
    base = dict(AutoModelForImageTextToText.from_pretrained(base_folder, dtype=torch.float32).named_modules())
    adapter = load_file(out / "adapter_model.safetensors")
    settings = json.loads((out / "adapter_config.json").read_text())
    scale = settings["lora_alpha"] / settings["r"]
    assert settings["target_modules"]
    for name in settings["target_modules"]:
        a = adapter[f"base_model.model.{name}.lora_A.weight"].float()
        b = adapter[f"base_model.model.{name}.lora_B.weight"].float()
        delta = scale * b @ a
        moved = merged[name].weight.detach().float() - base[name].weight.detach().float()
        # 1-2% off here, from rounding to bfloat16; a merge that did nothing is 100% off.
        assert delta.norm() > 0.1 and (moved - delta).norm() < 0.1 * delta.norm(), name


def test_train_refuses_a_search_space_and_bad_data_without_writing(tmp_path):
    out = tmp_path / "run"
    line = one_line_error(
        lorasearch("train", "-c", str(REPO / "configs/examples/lr_epochs.json"), "-o", str(out))
    )
    assert "search_space: lorasearch train runs one fixed config" in line
    data = tmp_path / "d.jsonl"
    data.write_text('{"image_path": "missing.png", "ocr_text": "x"}\n' * 3)
    config = write_json(tmp_path / "c.json", {"input_data": str(data)})
    line = one_line_error(lorasearch("train", "-c", str(config), "-o", str(out)))
    assert "3 image files are missing, first: missing.png (record 0)" in line
    assert not out.exists()


@pytest.mark.slow
def test_train_ctrl_c_saves_what_was_trained_and_exits_130(tmp_path):
    out, log = tmp_path / "run", tmp_path / "stdout.txt"
    demo = json.loads((REPO / "configs/demo_train.json").read_text())
    config = write_json(tmp_path / "c.json", {**demo, "num_train_epochs": 50})
    with log.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lorasearch_tui", "train", "-c", str(config), "-o", str(out)],
            cwd=REPO,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 120
        while "(step 10)" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert 10 <= metrics["stopped_at"] < metrics["max_steps"]
    assert (out / "adapter_model.safetensors").is_file()
    assert "interrupted" in log.read_text()


def test_schema_prints_json_for_editors():
    proc = lorasearch("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["properties"]["learning_rate"]["description"]


def test_unknown_option_is_usage_error_2():
    proc = lorasearch("train", "--bogus")
    assert proc.returncode == 2


def test_help_and_validate_never_import_the_training_stack(tmp_path):
    script = (
        "import sys\n"
        "from lorasearch_tui.cli import app\n"
        f"try:\n    app(['validate', '--config', {str(REPO / 'configs/demo.json')!r}])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        # `datasets` (0.5 s, no torch) is allowed: the split syntax is its ReadInstruction's
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_configs_demo_json_is_the_search_lorasearch_demo_runs():
    """A user's first `lorasearch search -c configs/demo.json` gets the demo's search."""
    from lorasearch_tui.cli.search import DEMO_SEARCH
    from lorasearch_tui.config import load_config, parse_config

    shipped = load_config(REPO / "configs" / "demo.json")
    assert shipped.space and shipped.to_dict() == parse_config(DEMO_SEARCH, "demo").to_dict()


@pytest.mark.parametrize("config", [None, "configs/demo.json"], ids=["no-config", "demo.json"])
def test_search_starts_without_a_config_and_with_the_demo_config(tmp_path, config):
    """`--timeout 0` ends the search before its first trial: what is checked is everything up
    to it (the default space was once passed as fixed values and refused)."""
    flags = ["-c", str(REPO / config)] if config else []
    proc = lorasearch("search", "--no-tui", *flags, "--study-name", "s", "--timeout", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    if config is None:
        assert "search learning_rate: loguniform(1e-05, 0.0005)" in proc.stdout
        assert "search num_train_epochs: int(2, 5)" in proc.stdout
    else:
        assert "search lora_r: categorical[4, 8, 16]" in proc.stdout
    assert "Search timeout" in proc.stdout

"""The TRL and PEFT options users expect, each reaching the object that uses it (the built
SFTConfig, the LoraConfig, the loaded model and processor), the ones that need a package or a
file refused in one line before a model loads, and two real trainings: rsLoRA, and early
stopping that keeps the best eval's adapter."""

from __future__ import annotations

import json

import pytest
from conftest import FAST, write_jsonl

from lorasearch_tui.config import TrainParams, check_options, parse_config
from lorasearch_tui.data import load_data
from lorasearch_tui.errors import UserError
from lorasearch_tui.training import evaluate_loss, load_base, lora_adapter, train_job
from lorasearch_tui.training._model import lora_config
from lorasearch_tui.training._reporting import run_name
from lorasearch_tui.training._run import _trainer, run_training

TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"


def test_options_that_need_a_package_or_a_file_are_refused_before_a_model_loads(tmp_path):
    def refused(images=False, **fixed):
        with pytest.raises(UserError) as caught:
            check_options(parse_config(fixed, "c").params, images)
        return str(caught.value)

    assert refused(True, packing=True) == (
        "packing: TRL packs text examples only, and input_data has images; set packing to false"
    )
    assert (
        "use_liger_kernel: liger needs liger-kernel, which is not installed; pip install liger-kernel"
        in refused(use_liger_kernel=True)
    )
    assert "attn_implementation: flash_attention_2 needs flash-attn" in refused(
        attn_implementation="flash_attention_2"
    )
    assert "report_to: mlflow needs mlflow, which is not installed" in refused(report_to="mlflow")
    assert "chat_template: no file nope.jinja" in refused(chat_template="nope.jinja")
    check_options(parse_config({"packing": True, "chat_template": TEMPLATE}, "c").params, False)  # fine
    assert "did you mean 'use_rslora'" in str(
        pytest.raises(UserError, parse_config, {"use_rsloar": True}, "c").value
    )


@pytest.mark.slow
def test_each_option_reaches_the_trainer_peft_and_the_model(tiny_llama, text_records, tmp_path):
    rows = [{"prompt": q, "completion": a} for q, a in text_records]
    path = write_jsonl(tmp_path / "pc.jsonl", rows)
    template = tmp_path / "t.jinja"
    template.write_text(TEMPLATE, encoding="utf-8")
    params = TrainParams(
        **FAST,
        model_name=str(tiny_llama),
        input_data=str(path),
        max_steps=2,
        packing=True,
        attn_implementation="eager",
        chat_template=str(template),
        lora_target_modules="all-linear",
        lora_exclude_modules=["o_proj"],
        use_rslora=True,
        use_dora=True,
    )
    base = load_base(params)
    assert base.model.config._attn_implementation == "eager"
    assert base.tokenizer.chat_template == TEMPLATE
    lora = lora_config(base, params)
    assert lora.use_rslora and lora.use_dora and lora.target_modules == "all-linear"
    assert set(lora.exclude_modules) == {"o_proj"}
    data = load_data(params)
    with lora_adapter(base, params) as model:
        names = {n for n, _ in model.named_modules()}
        assert not any(n.endswith("o_proj.lora_A") for n in names) and any(
            n.endswith("q_proj.lora_A") for n in names
        )
        trainer = _trainer(
            base, model, params, data, tmp_path / "study" / "trial_3" / "trainer", [], False, False
        )
        assert trainer.args.packing and trainer.args.report_to in ([], ["none"], "none")
        assert trainer.args.run_name == "study-trial-3"
    # lorasearch's own targets with an exclusion: full names, the excluded ones gone
    own = lora_config(base, params.model_copy(update={"lora_target_modules": None}))
    assert own.target_modules and not any(t.endswith("o_proj") for t in own.target_modules)
    assert run_name(tmp_path / "out" / "checkpoints") == "out"


@pytest.mark.slow
def test_rslora_trains_and_is_saved_as_such(tmp_path):
    result = train_job(TrainParams(**FAST, max_steps=4, use_rslora=True), tmp_path)
    assert result.eval_loss < result.initial_eval_loss
    assert json.loads((tmp_path / "adapter_config.json").read_text())["use_rslora"] is True


@pytest.mark.slow
def test_early_stopping_ends_a_worsening_run_with_its_best_adapter(tmp_path):
    """A learning rate far too high: the eval loss improves once, then worsens; after two evals
    without improvement the run stops, and the adapter it keeps is the best eval's."""
    params = TrainParams(
        **{**FAST, "eval_steps": 2, "learning_rate": 3.0}, max_steps=14, early_stopping_patience=2
    )
    data, base = load_data(params, decode_images=False), load_base(params)
    with lora_adapter(base, params) as model:
        result = run_training(base, model, params, data, tmp_path / "t")
        kept = evaluate_loss(base, model, params, data, tmp_path / "e")
    losses = [e["eval_loss"] for e in result.eval_history]
    assert result.early_stopped_at is not None and result.steps == result.early_stopped_at < 14
    assert result.eval_loss == min(losses) and result.value == min(losses)
    assert result.best_step == result.eval_history[losses.index(min(losses))]["step"]
    assert kept == pytest.approx(result.eval_loss, abs=1e-6)  # the best eval's adapter, put back
    assert losses[-1] > result.eval_loss


@pytest.mark.slow
def test_wandb_gets_one_run_per_trial_grouped_by_its_study_with_its_config(tmp_path, monkeypatch):
    """Two trials in one process, as a worker runs them, with W&B offline (the real library,
    no network): each its own run, named STUDY-trial-N, grouped by the study, lorasearch's
    config of the trial in the run's config (WandbCallback would have logged the second trial
    into the first's run)."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_RUN_GROUP", "")  # restored (to unset) at the end: the run sets it
    runs = []
    for number, rank in enumerate((4, 8)):
        params = TrainParams(**FAST, max_steps=2, report_to="wandb", lora_r=rank)
        train_job(params, tmp_path / "receipts" / f"trial_{number}")
        config = wandb.run.config["lorasearch"]
        runs.append((wandb.run.id, wandb.run.name, wandb.run.group, config["lora_r"], config["input_data"]))
    wandb.finish()
    assert runs[0][1:] == ("receipts-trial-0", "receipts", 4, "demo:ocr")
    assert runs[1][1:] == ("receipts-trial-1", "receipts", 8, "demo:ocr")
    assert runs[0][0] != runs[1][0]
    assert len(list((tmp_path / "wandb").glob("offline-run-*"))) == 2

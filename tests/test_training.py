"""Real 4-bit LoRA training on the CPU: the demo VLM, a text-only LM, masking, saving, merging."""

from __future__ import annotations

import json
import math

import pytest
from conftest import FAST, write_jsonl

from lorasearch_tui.config import TrainParams
from lorasearch_tui.data import load_data
from lorasearch_tui.demo._model import TOKENS_PER_IMAGE
from lorasearch_tui.errors import UserError
from lorasearch_tui.training import (
    METRICS_FILE,
    evaluate_loss,
    load_base,
    lora_adapter,
    lora_target_modules,
    train_job,
)
from lorasearch_tui.training._run import _trainer, run_training

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_params() -> TrainParams:
    return TrainParams(**FAST, max_steps=15)


@pytest.fixture(scope="module")
def demo_run(demo_params, tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-run")
    return folder, train_job(demo_params, folder)


def _linear4bit_names(model) -> list[str]:
    return [n for n, m in model.named_modules() if type(m).__name__ == "Linear4bit"]


def test_demo_vlm_trains_in_4bit_and_the_eval_loss_falls(demo_run, demo_params):
    folder, result = demo_run
    assert result.initial_eval_loss is not None and result.eval_loss is not None
    assert result.eval_loss < result.initial_eval_loss - 0.5
    assert result.steps == 15 and result.stopped_at is None
    assert [e["step"] for e in result.eval_history] == [0, 5, 10, 15]
    assert len(result.train_history) == 15 and all(math.isfinite(h["loss"]) for h in result.train_history)
    import torch

    assert result.tokens_per_s > 0 and result.peak_memory_bytes > 0
    assert result.memory_kind == ("gpu" if torch.cuda.is_available() else "rss")
    saved = json.loads((folder / METRICS_FILE).read_text())
    assert saved["eval_loss"] == result.eval_loss
    assert (folder / "adapter_model.safetensors").is_file() and (folder / "processor_config.json").is_file()


def test_saved_adapter_loaded_again_gives_the_same_eval_loss(demo_run, demo_params, tmp_path):
    from peft import PeftModel

    folder, result = demo_run
    base = load_base(demo_params)
    assert base.is_vlm
    quantized = _linear4bit_names(base.model)
    assert any("language_model" in n for n in quantized) and any("vision_tower" in n for n in quantized)
    model = PeftModel.from_pretrained(base.model, folder)
    loss = evaluate_loss(base, model, demo_params, load_data(demo_params), tmp_path)
    import torch

    assert loss == pytest.approx(
        result.eval_loss, **({"rel": 1e-3} if torch.cuda.is_available() else {"abs": 1e-4})
    )


def test_lora_covers_the_language_model_only_unless_asked(demo_params):
    base = load_base(demo_params)
    language = lora_target_modules(base.model, include_vision=False)
    both = lora_target_modules(base.model, include_vision=True)
    assert language and all("language_model" in n for n in language)
    assert set(language) < set(both) and any("vision_tower" in n for n in both)
    assert not any(n.endswith("lm_head") for n in both)


def test_vlm_batches_mask_the_prompt_and_image_tokens(demo_params, tmp_path):
    base = load_base(demo_params)
    data = load_data(demo_params)
    with lora_adapter(base, demo_params) as model:
        trainer = _trainer(base, model, demo_params, data, tmp_path, [], False, False)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    tokenizer = base.tokenizer
    image_id = tokenizer.convert_tokens_to_ids("<image_soft_token>")
    ids, labels = batch["input_ids"], batch["labels"]
    assert (ids == image_id).sum() == 3 * TOKENS_PER_IMAGE
    assert (labels[ids == image_id] == -100).all()
    for row in range(3):
        trained = ids[row][labels[row] != -100]
        text = tokenizer.decode(trained)
        assert text.strip().startswith(data.train[row].answer_text())
        assert "OCR" not in text and "<start_of_turn>" not in text


def test_text_only_lm_trains_on_chat_records_with_the_prompt_masked(tiny_llama, text_records, tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in text_records
    ]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    params = TrainParams(
        **FAST, model_name=str(tiny_llama), input_data=str(path), max_steps=12, load_in_4bit=True
    )
    base = load_base(params)
    assert not base.is_vlm and _linear4bit_names(base.model)
    data = load_data(params)
    with lora_adapter(base, params) as model:
        trainer = _trainer(base, model, params, data, tmp_path / "t", [], False, False)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    for row in range(2):
        trained = batch["input_ids"][row][batch["labels"][row] != -100]
        assert base.tokenizer.decode(trained).strip().startswith(data.train[row].answer_text())
    result = train_job(params, tmp_path / "out")
    assert result.eval_loss < result.initial_eval_loss


def test_text_only_lm_trains_on_instruction_records(tiny_llama, text_records, tmp_path):
    rows = [{"instruction": "Compute", "input": q, "output": a} for q, a in text_records]
    path = write_jsonl(tmp_path / "inst.jsonl", rows)
    params = TrainParams(**FAST, model_name=str(tiny_llama), input_data=str(path), max_steps=10)
    result = train_job(params, tmp_path / "out")
    assert result.eval_loss < result.initial_eval_loss
    assert (tmp_path / "out" / "adapter_config.json").is_file()


def test_the_tokenized_splits_are_built_once_and_train_the_same(tiny_llama, text_records, tmp_path):
    """A worker's later trials take the splits TRL tokenized for its first one (no templating,
    tokenizing and masking per trial); they train exactly as freshly tokenized ones do."""
    rows = [{"prompt": q, "completion": a} for q, a in text_records]
    path = write_jsonl(tmp_path / "pc.jsonl", rows)
    params = TrainParams(
        **{**FAST, "eval_steps": 2}, model_name=str(tiny_llama), input_data=str(path), max_steps=4
    )
    base = load_base(params)
    kept = load_data(params)

    def trained(data, folder):
        with lora_adapter(base, params) as model:
            result = run_training(base, model, params, data, tmp_path / folder)
        return result.train_history, result.eval_history

    first = trained(kept, "a")
    key = (base.key, params.max_seq_length)
    train, val = kept.prepared[key]
    assert "input_ids" in train.column_names and "labels" in train.column_names  # TRL's own result
    again = trained(kept, "b")
    assert kept.prepared[key][0] is train and kept.prepared[key][1] is val  # taken, not rebuilt
    fresh = trained(load_data(params), "c")
    assert again == fresh == first


def test_images_on_a_text_only_model_is_a_user_error(tiny_llama, demo_data, tmp_path):
    params = TrainParams(**FAST, model_name=str(tiny_llama), input_data=str(demo_data), max_steps=2)
    with pytest.raises(UserError, match="has images but .* is a text-only model"):
        train_job(params, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_observer_can_stop_the_run(demo_params, tmp_path):
    class StopAfterFirstEval:
        evals: list[int] = []

        def on_start(self, max_steps):
            pass

        def on_step(self, step, loss, lr):
            pass

        def on_eval(self, step, eval_loss, value, scores=()):
            self.evals.append(step)

        def should_stop(self):
            return 5 in self.evals

    from lorasearch_tui.training import run_training

    params = demo_params.model_copy(update={"max_steps": 30})
    base = load_base(params)
    with lora_adapter(base, params) as model:
        result = run_training(base, model, params, load_data(params), tmp_path, StopAfterFirstEval())
    assert result.stopped_at == 5 and result.steps == 5 and result.max_steps == 30
    assert result.eval_history[-1]["step"] == 5

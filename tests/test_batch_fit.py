"""The effective batch is the user's, the micro-batch lorasearch's: how it is cut never changes
what is learned (checked on the CPU, real training), and the fit keeps the largest micro-batch
that fits (its search checked with an injected out-of-memory; the real one runs in
tests/test_gpu.py on a GPU; the probe's training step runs here on the CPU too)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lorasearch_tui.config import TrainParams, parse_config
from lorasearch_tui.data import load_data
from lorasearch_tui.training import load_base, lora_adapter
from lorasearch_tui.training._batch_fit import (
    BatchChoice,
    _longest_index,
    choose,
    divisors_down,
    fit,
    probe_step,
)
from lorasearch_tui.training._run import _trainer, run_training

GIB = 2**30


def test_the_fit_takes_the_largest_divisor_that_fits():
    assert divisors_down(8) == [8, 4, 2, 1] and divisors_down(6) == [6, 3, 2, 1]
    tried = []

    def probe(micro):  # out of memory above 4; 4 itself peaks above the budget
        tried.append(micro)
        return None if micro > 4 else micro * 3 * GIB

    choice = fit(8, probe, budget=10 * GIB)
    assert (choice.micro_batch, choice.accumulation, choice.label) == (2, 4, "2x4")
    assert tried == [8, 4, 2]
    assert choice.note == "peak 6.0 GiB of 10.0 GiB; 8, 4 (12.0 GiB) did not fit"
    assert fit(4, lambda m: None, budget=GIB) == BatchChoice(1, 4, True, "nothing fits in 1.0 GiB: 1 x 4")


def test_auto_keeps_the_given_numbers_on_a_cpu_and_fixed_everywhere():
    params = parse_config({"per_device_train_batch_size": 1, "gradient_accumulation_steps": 4}, "c").params
    assert params.batch_fit == "auto"
    never = lambda: pytest.fail("no probe on a CPU")  # noqa: E731
    assert choose(params, SimpleNamespace(device="cpu"), never) == BatchChoice(1, 4, False)
    fixed = params.model_copy(update={"batch_fit": "fixed"})
    assert choose(fixed, SimpleNamespace(device="cuda"), never) == BatchChoice(1, 4, False)


@pytest.mark.slow
def test_one_by_four_and_four_by_one_learn_the_same(tmp_path):
    """Same data order, same effective batch: the same train and eval losses to float
    precision, whichever way the batch is cut."""
    runs = {}
    for micro, accumulation in ((4, 1), (1, 4), (2, 2)):
        params = TrainParams(
            max_seq_length=256,
            per_device_train_batch_size=micro,
            gradient_accumulation_steps=accumulation,
            max_steps=6,
            eval_steps=3,
            learning_rate=0.02,
        )
        data, base = load_data(params, decode_images=False), load_base(params)
        with lora_adapter(base, params) as model:
            result = run_training(base, model, params, data, tmp_path / f"{micro}x{accumulation}")
        assert result.batch == f"{micro}x{accumulation}"  # kept as given on the CPU
        runs[micro] = result
    reference = runs[4]
    for other in (runs[1], runs[2]):
        assert [s["loss"] for s in other.train_history] == pytest.approx(
            [s["loss"] for s in reference.train_history], rel=1e-3
        )
        assert [e["eval_loss"] for e in other.eval_history] == pytest.approx(
            [e["eval_loss"] for e in reference.eval_history], rel=1e-3
        )
    # the untrained adapter's eval loss does not depend on the micro-batch at all
    assert runs[1].eval_history[0]["eval_loss"] == reference.eval_history[0]["eval_loss"]


def test_a_probe_that_cannot_run_leaves_the_numbers_as_given(caplog):
    """The fit is a speed-up: a probe failing for another reason than memory (no CUDA at all
    here, a broken probe on a GPU) must not fail the trial."""
    params = parse_config(
        {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 3, "lora_r": 7}, "c"
    ).params
    base = SimpleNamespace(device="cuda", key=("probe-fails",))

    def broken_probe():
        raise RuntimeError("the probe broke")  # on a CPU the GPU's size cannot be read first

    choice = choose(params, base, broken_probe)
    assert (choice.micro_batch, choice.accumulation, choice.fitted) == (2, 3, False)
    assert choice.note.startswith("fit failed: ") and "batch fit skipped, 2 x 3 as given" in caplog.text


def test_the_probe_trains_on_copies_of_the_longest_image_record(tmp_path):
    """The probe's step, on the vision-language demo, at the sizes a fit tries one after the
    other on one trainer. It once repeated one dict, which TRL's collator fills in place: every
    fit on a VLM failed on the first GPU run and trained with the numbers as given."""
    params = TrainParams(max_seq_length=256, per_device_train_batch_size=2, gradient_accumulation_steps=2)
    data, base = load_data(params), load_base(params)
    with lora_adapter(base, params) as model:
        trainer = _trainer(base, model, params, data, tmp_path, [], False, False)
        index = _longest_index(trainer.train_dataset)
        lengths = [len(row.answer_text()) for row in data.train]
        assert lengths[index] == max(lengths)
        losses = [probe_step(trainer, index, micro) for micro in (4, 2, 1)]
        assert all(0 < loss < 100 for loss in losses)
        assert all(p.grad is None for p in model.parameters() if p.requires_grad)  # thrown away

"""Generation at the machine's speed: the worker's batched greedy generation on the CER demo
against `model.generate` one record at a time and against other batch orders, in one run.

    .venv/bin/python bench/generation.py [--repeats 3] [--batch 4]

It trains one adapter on the taught demo (a search of one trial: a CER objective, learning
rate 0.01, so the answers are real lines that end where the model says so), in a temporary
folder; that trial's `generate_s` over its run time is the share of a CER trial spent
generating. Then it
loads the base model and the adapter once, in this process, and generates the answers to the
30 val records in each arrangement, `--repeats` times in alternating order:

- one at a time: `generate` with a batch of one record, no padding at all;
- record order: the records in batches of `--batch`, as they come;
- by answer length: batches of records whose references have similar lengths (the order the
  search's evals use: a batch runs until its longest answer ends, so mixing a 35-character line
  with three 8-character ones makes three sequences wait);
- by prompt length: sorted by the prompt's length (equal on the demo: one image, one question).

Each row: the median seconds and the range, answer tokens per second (tokens up to the end of
turn), and whether the answers equal the one-at-a-time ones (each record's answer must not
depend on its batch). The demo's assets come from `LORASEARCH_CACHE_DIR` (built, taught, if
missing: two minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TRAIN = {
    "model_name": "demo:model",
    "input_data": "demo:ocr",
    "instruction": "請給我 OCR 結果",
    "train_split": "train[:90%]",
    "val_split": "train[90%:]",
    "max_seq_length": 256,
    "num_train_epochs": 1,
    "per_device_train_batch_size": 4,
    "learning_rate": 0.01,
    "eval_steps": 34,
    "objective": {"metric": "cer", "eval_samples": 30},
}


def train(folder: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """One real trial (a search of one fixed set); its adapter folder, config and results."""
    config = {**TRAIN, "base_output_dir": str(folder / "out")}
    search = {**config, "search_space": {"learning_rate": {"type": "categorical", "choices": [0.01]}}}
    del search["learning_rate"]
    (folder / "search.json").write_text(json.dumps(search, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", "search", "-c", "search.json", "--n-trials", "1"]
        + ["--study-name", "gen", "--pruner", "none", "--no-tui"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"lorasearch search failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    results = folder / "out" / "gen" / "trial_0" / "trial_results.json"
    return results.parent / "adapter", config, json.loads(results.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        adapter, config, results = train(Path(tmp))
        spent, runtime = results.get("generate_s", 0.0), results.get("runtime_s", 0.0)
        print(f"one CER run: generate_s {spent:.1f} s of {runtime:.1f} s ({spent / max(runtime, 1e-9):.0%})")
        measure(adapter, config, args.repeats, args.batch)


def measure(adapter: Path, config: dict[str, Any], repeats: int, batch: int) -> None:
    import torch
    from peft import PeftModel

    from lorasearch_tui.config import TrainParams
    from lorasearch_tui.data import load_data
    from lorasearch_tui.training import generate, generation_order, load_base, max_new_tokens

    params = TrainParams.model_validate({k: v for k, v in config.items()})
    data = load_data(params, decode_images=False)
    examples = list(data.val)
    base = load_base(params)
    model = PeftModel.from_pretrained(base.model, str(adapter)).eval()
    max_new = max_new_tokens(base, examples, params.objective)
    by_prompt = sorted(range(len(examples)), key=lambda i: len(examples[i].prompt_text()))
    arrangements = {
        "one at a time": [[i] for i in range(len(examples))],
        "record order": _batches(list(range(len(examples))), batch),
        "by answer length": _batches(generation_order(examples), batch),
        "by prompt length": _batches(by_prompt, batch),
    }
    seconds: dict[str, list[float]] = {name: [] for name in arrangements}
    answers: dict[str, list[str]] = {}
    for repeat in range(repeats):
        names = list(arrangements) if repeat % 2 == 0 else list(reversed(arrangements))
        for name in names:
            began = time.perf_counter()
            out: dict[int, str] = {}
            with torch.no_grad():
                for group in arrangements[name]:
                    for i, text in zip(
                        group, generate(base, model, [examples[i] for i in group], max_new), strict=True
                    ):
                        out[i] = text
            seconds[name].append(time.perf_counter() - began)
            answers[name] = [out[i] for i in range(len(examples))]
    tokens = sum(
        len(base.tokenizer(a, add_special_tokens=False)["input_ids"]) + 1 for a in answers["one at a time"]
    )
    threads = torch.get_num_threads()
    shape = f"batch {batch}, {repeats} repeats, {tokens} answer tokens, {threads} threads"
    print(f"{len(examples)} val records, {shape}")
    print("| arrangement | median s | range s | answer tokens/s | answers as one at a time |")
    print("|---|---|---|---|---|")
    for name, times in seconds.items():
        med = statistics.median(times)
        same = answers[name] == answers["one at a time"]
        print(f"| {name} | {med:.2f} | {min(times):.2f}-{max(times):.2f} | {tokens / med:.0f} | {same} |")


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()

"""Do the model-based modes (bayesian, gp) find better parameters than random on the demo?
And what do the pruners save? One run, side by side.

    .venv/bin/python bench/search_quality.py [--seeds 5] [--n-trials 12] [--modes bayesian,gp,random]
    .venv/bin/python bench/search_quality.py --pruners median,successive_halving,none [--seeds 3]

Each mode searches the demo (real 4-bit LoRA training, median pruning) once per seed; the
script prints every search's best eval loss, the median over seeds per mode and the ratio of
the medians' distances to the best value seen anywhere. The space is the demo's (learning rate
log-uniform over three decades, LoRA rank 4/8/16): the learning rate dominates it, so it shows
whether TPE's (or the Gaussian process's) model, after its random start-up (`tpe_startup`),
homes in on the good region sooner than random draws do. The last mode is the reference each
other one is compared with. Costs about 5 s a trial on a 2-core CPU.

With `--pruners`, the first mode searches once per pruner and seed, and the table adds the
compute: the optimizer steps trained in all, and those trained until the best trial ended (in
trial order), beside the best value: a pruner earns its place by reaching as good a best for
fewer steps than `none`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEARCH = {
    "max_seq_length": 256,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "max_steps": 20,
    "eval_steps": 5,
    "search_space": {
        "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "lora_r": {"type": "categorical", "choices": [4, 8, 16]},
    },
}


def best_of(folder: Path, mode: str, seed: int, n_trials: int, pruner: str = "median") -> dict[str, float]:
    """One search: its best value, the steps it trained in all and until its best trial ended."""
    import optuna

    config = folder / f"search-{seed}.json"
    config.write_text(json.dumps({**SEARCH, "seed": seed}))
    name = f"{mode}-{pruner}-{seed}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lorasearch_tui",
            "search",
            "--no-tui",
            "-c",
            str(config),
            "--study-name",
            name,
            "--search-mode",
            mode,
            "--pruner",
            pruner,
            "--n-trials",
            str(n_trials),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"{name} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    best = json.loads((folder / "optuna_studies" / f"{name}_best_params.json").read_text())
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{folder}/optuna_studies/{name}.db")
    steps = [(t.number, int(t.user_attrs.get("steps", 0))) for t in study.trials]
    to_best = sum(n for number, n in steps if number <= best["best_trial"])
    return {"best": best["best_value"], "steps": sum(n for _, n in steps), "to_best": to_best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-trials", type=int, default=12)
    parser.add_argument("--modes", default="bayesian,gp,random")
    parser.add_argument("--pruners", default="", help="compare these pruners (with the first mode)")
    args = parser.parse_args()
    modes = args.modes.split(",")
    pruners = args.pruners.split(",") if args.pruners else []
    # what is compared: modes (median pruning), or pruners (the first mode)
    variants = [(p, modes[0], p) for p in pruners] if pruners else [(m, m, "median") for m in modes]
    labels = [label for label, _, _ in variants]
    results: dict[str, list[dict[str, float]]] = {label: [] for label in labels}
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"demo, {args.n_trials} trials a search, seeds 0..{args.seeds - 1}", flush=True)
        print(f"{'seed':>4}  " + "  ".join(f"{label:>20}" for label in labels), flush=True)
        for seed in range(args.seeds):
            for label, mode, pruner in variants:  # interleaved: a noisy moment hits them all
                results[label].append(best_of(folder, mode, seed, args.n_trials, pruner))
            print(
                f"{seed:>4}  " + "  ".join(_cell(results[label][-1], pruners) for label in labels), flush=True
            )
    bests = {label: [r["best"] for r in runs] for label, runs in results.items()}
    medians = {label: statistics.median(v) for label, v in bests.items()}
    floor = min(min(v) for v in bests.values())
    print(f"{'median':>4}  " + "  ".join(f"{medians[label]:>20.4f}" for label in labels))
    gap = {label: medians[label] - floor for label in labels}
    reference = labels[-1]
    for label in labels[:-1]:
        wins = sum(b < r for b, r in zip(bests[label], bests[reference], strict=True))
        ratio = gap[reference] / gap[label] if gap[label] > 0 else float("inf")
        print(
            f"{label} better than {reference} in {wins} of {args.seeds} seeds; distance of the median best "
            f"to the best seen: {gap[label]:.4f} vs {gap[reference]:.4f} ({ratio:.2f}x)"
        )
        if pruners:
            steps = {k: statistics.median(r["steps"] for r in results[k]) for k in (label, reference)}
            to_best = {k: statistics.median(r["to_best"] for r in results[k]) for k in (label, reference)}
            print(
                f"{label}: median steps trained {steps[label]:.0f} vs {steps[reference]:.0f} "
                f"({steps[label] / steps[reference]:.2f}x), until its best {to_best[label]:.0f} vs "
                f"{to_best[reference]:.0f} ({to_best[label] / max(to_best[reference], 1):.2f}x)"
            )
    print(f"took {time.monotonic() - began:.0f} s")


def _cell(result: dict[str, float], pruners: list[str]) -> str:
    """A search's best, and with pruners compared, its steps in all / until its best."""
    if not pruners:
        return f"{result['best']:>20.4f}"
    return f"{result['best']:.4f} {result['steps']:>5.0f}/{result['to_best']:<5.0f}".rjust(20)


if __name__ == "__main__":
    main()

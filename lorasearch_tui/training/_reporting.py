"""What lorasearch adds to the trainer's reporting integrations (`report_to`).

Transformers' callbacks make the runs and log the metrics, the TrainingArguments and the model
config. lorasearch adds three things they cannot know:
- the run's name, `STUDY-trial-N` for a search trial (else the output folder's name);
- for W&B, the study as the run's group (`WANDB_RUN_GROUP`), and lorasearch's whole config of
  the trial (`lora_r`, the data, every searched value) as `config.lorasearch`, so that a sweep's
  runs can be compared by what was searched;
- for W&B, one run per trial: `WandbCallback` logs into any run still open, and a worker runs
  trial after trial, so the run an earlier trial left open is finished before the next begins
  (as failed when its training never reached its end: an exception, out of memory).
MLflow and TensorBoard get the run name; their grouping is their own (an MLflow experiment,
a TensorBoard log folder per run).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import TrainParams


def run_name(output_dir: Path) -> str:
    """`STUDY-trial-N` for a search trial (its trainer folder is STUDY/trial_N/trainer), else the
    output folder's name: what W&B, TensorBoard and MLflow call the run."""
    study, trial = _trial_of(output_dir)
    if study is not None:
        return f"{study}-trial-{trial}"
    return output_dir.parent.name if output_dir.name in ("trainer", "checkpoints") else output_dir.name


def _trial_of(output_dir: Path) -> tuple[str | None, str | None]:
    trial = output_dir.parent
    if trial.name.startswith("trial_"):
        return trial.parent.name, trial.name.removeprefix("trial_")
    return None, None


_ended: dict[str, bool] = {}  # W&B run ids whose training reached its end, in this process


def reporting_callbacks(params: TrainParams, output_dir: Path) -> list[Any]:
    """The callbacks that give a run its group and config; called once per run, before its
    trainer is made."""
    if params.report_to != "wandb":
        return []
    import wandb
    from transformers import TrainerCallback

    if wandb.run is not None:  # an earlier trial's, in this worker: its own run ends here,
        wandb.finish(exit_code=0 if _ended.get(wandb.run.id) else 1)  # failed if it never ended
    study, _ = _trial_of(output_dir)
    if study is not None:
        os.environ["WANDB_RUN_GROUP"] = study
    values = params.model_dump(mode="json")

    class TrialConfig(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # after WandbCallback's own on_train_begin (integrations come first): the run exists
            if wandb.run is not None:
                wandb.run.config.update({"lorasearch": values}, allow_val_change=True)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if wandb.run is not None:  # trained to its end (or pruned, or stopped early): not a failure
                _ended[wandb.run.id] = True

    return [TrialConfig()]

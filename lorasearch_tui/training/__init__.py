"""Training: the base model, the LoRA adapter, one TRL run, and saving it.

Everything heavy (torch, transformers, peft, trl) is imported inside the functions here, so
importing this package costs nothing until a run starts.
"""

from ._job import train_job
from ._model import (
    LoadedBase,
    attach_lora,
    base_signature,
    detach_lora,
    load_base,
    lora_target_modules,
    model_key,
)
from ._observer import NullObserver, TrainingDiverged, TrainingObserver
from ._result import RunResult
from ._run import evaluate_loss, lora_adapter, run_training, to_dataset
from ._save import CONFIG_FILE, METRICS_FILE, merge_adapter, save_run

__all__ = [
    "CONFIG_FILE",
    "METRICS_FILE",
    "LoadedBase",
    "NullObserver",
    "RunResult",
    "TrainingDiverged",
    "TrainingObserver",
    "attach_lora",
    "base_signature",
    "detach_lora",
    "evaluate_loss",
    "load_base",
    "lora_adapter",
    "lora_target_modules",
    "merge_adapter",
    "model_key",
    "run_training",
    "save_run",
    "to_dataset",
    "train_job",
]

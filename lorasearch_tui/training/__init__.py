"""Training: the base model, the LoRA adapter, one TRL run, and saving it.

Everything heavy (torch, transformers, peft, trl) is imported inside the functions here, so
importing this package costs nothing until a run starts.
"""

from ._job import train_job
from ._model import (
    base_signature,
    load_base,
    lora_target_modules,
    model_key,
)
from ._observer import TrainingDiverged, TrainingObserver
from ._result import RunResult
from ._run import evaluate_loss, lora_adapter, run_training
from ._save import METRICS_FILE, merge_adapter
from ._scoring import generate, generation_order, max_new_tokens

__all__ = [
    "METRICS_FILE",
    "RunResult",
    "TrainingDiverged",
    "TrainingObserver",
    "base_signature",
    "evaluate_loss",
    "generate",
    "generation_order",
    "load_base",
    "max_new_tokens",
    "lora_adapter",
    "lora_target_modules",
    "merge_adapter",
    "model_key",
    "run_training",
    "train_job",
]

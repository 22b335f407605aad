"""`lorasearch train` without its front end: data, model, one run, saved results."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import TrainParams, check_options
from ..data import load_data, with_data
from ..hub import with_model
from ._model import load_base
from ._observer import TrainingObserver
from ._result import RunResult
from ._run import lora_adapter, run_training
from ._save import merge_adapter, save_run

_log = logging.getLogger("lorasearch.training")


def train_job(
    params: TrainParams, output_dir: Path, merge: bool = False, observer: TrainingObserver | None = None
) -> RunResult:
    """Check the data, load the model, train one adapter and save it to `output_dir`.

    Data comes first: a broken data file must fail in a second, before a model loads.
    """
    params = with_data(params)  # a Hub dataset: downloaded now, its commit recorded
    data = load_data(params)
    check_options(params, data.has_images)
    params = with_model(params)  # a Hub model: downloaded now, its commit recorded
    _log.info("Data: %d train and %d val examples from %s", len(data.train), len(data.val), data.source)
    base = load_base(params)
    with lora_adapter(base, params) as peft_model:
        result = run_training(
            base, peft_model, params, data, output_dir / "checkpoints", observer, save_checkpoints=True
        )
        save_run(peft_model, base, params, result, output_dir)
    checkpoints = output_dir / "checkpoints"
    if checkpoints.is_dir() and not any(checkpoints.iterdir()):
        checkpoints.rmdir()  # no save_steps: nothing was written there
    _log.info("Saved the adapter, processor and metrics to %s", output_dir)
    if merge:
        merge_adapter(output_dir, base.path, params, output_dir / "merged")
        _log.info("Saved the merged 16-bit model to %s", output_dir / "merged")
    return result

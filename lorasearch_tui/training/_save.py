"""Write a finished run to its folder: adapter, processor, metrics, and optionally a merged model.

Layout of the folder D:
- `adapter_config.json`, `adapter_model.safetensors`: the LoRA adapter (`PeftModel.from_pretrained(base, D)`);
- the processor or tokenizer files, so D is all a user needs beside the base model;
- `lorasearch_config.json`: the parameters of the run (a config `lorasearch train` accepts);
- `metrics.json`: the run's result (losses per step, runtime, tokens/s, peak memory);
- `merged/` with `--merge`: the base in 16-bit with the adapter merged in, the form vLLM serves.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..config import TrainParams
from ._model import LoadedBase
from ._result import RunResult

_log = logging.getLogger("lorasearch.training")

METRICS_FILE = "metrics.json"
CONFIG_FILE = "lorasearch_config.json"


def save_run(peft_model: Any, base: LoadedBase, params: TrainParams, result: RunResult, folder: Path) -> None:
    """Save adapter, processor, the run's parameters and its metrics into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(folder)
    base.processor.save_pretrained(folder)
    write_json(folder / CONFIG_FILE, params.model_dump())
    write_json(folder / METRICS_FILE, result.to_dict())


def merge_adapter(adapter_dir: Path, base_path: Path, params: TrainParams, out: Path) -> None:
    """Reload the base in 16-bit, merge the adapter from `adapter_dir` into it, save to `out`.

    The 4-bit weights are not merged into: merging into dequantized NF4 weights would bake the
    quantization error into the served model. The base is loaded again unquantized instead.
    """
    import torch
    from peft import PeftModel

    from ._model import is_vision_language

    vlm = is_vision_language(base_path, params.trust_remote_code)
    if vlm:
        from transformers import AutoModelForImageTextToText as Auto
        from transformers import AutoProcessor as AutoProc
    else:
        from transformers import AutoModelForCausalLM as Auto
        from transformers import AutoTokenizer as AutoProc
    _log.info("Merging the adapter into a 16-bit copy of %s", base_path)
    model = Auto.from_pretrained(
        base_path, dtype=torch.bfloat16, trust_remote_code=params.trust_remote_code, local_files_only=True
    )
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    # the processor saved with the adapter (lorasearch train), else the base model's (a trial's)
    has_own = any((adapter_dir / f).is_file() for f in ("tokenizer_config.json", "processor_config.json"))
    processor_from = adapter_dir if has_own else base_path
    AutoProc.from_pretrained(processor_from, trust_remote_code=params.trust_remote_code).save_pretrained(out)

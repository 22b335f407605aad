"""Load the base model (4-bit or not) and put a LoRA adapter on it, then take it off again.

The checkpoint's own config decides what it is: a vision-language model gets
`AutoModelForImageTextToText` and its processor, anything else `AutoModelForCausalLM` and a
tokenizer. Loading never touches the network, and runs a model's own code only when the
config's `trust_remote_code` says so.

Loading is separate from the adapter so one loaded base can serve many trials: PEFT's
`unload()` gives back the base with its `Linear4bit` layers intact (`tests/test_worker.py`
checks that five trials leave the base exactly as loaded).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import TrainParams, chat_template_text
from ..errors import UserError
from ..locate import model_path
from ._bnb_import import import_bitsandbytes

_log = logging.getLogger("lorasearch.training")

# Module names that belong to the vision side of a VLM; LoRA stays off them unless
# `finetune_vision_layers` is set.
_VISION_MARKERS = ("vision", "visual", "multi_modal_projector", "mm_projector")


@dataclass
class LoadedBase:
    """A loaded base model, its processor or tokenizer, and the setting it was loaded with."""

    model: Any
    processor: Any
    is_vlm: bool
    path: Path
    device: str  # "cuda" or "cpu"
    key: tuple[Any, ...]  # model_key: the settings it was loaded with
    # The model's own instance-level `forward` as loaded (None: the class's); TRL's SFTTrainer
    # sets one on the base model (its fused LM head) that PEFT's unload() keeps.
    loaded_forward: Any = None
    # The ids of the hooks on each module as loaded, so a trial's hooks can all be taken off.
    loaded_hooks: dict[tuple[str, str], frozenset[int]] | None = None

    @property
    def tokenizer(self) -> Any:
        """The text tokenizer, whether `processor` is a processor or a tokenizer."""
        return getattr(self.processor, "tokenizer", self.processor)


def model_key(params: TrainParams) -> tuple[Any, ...]:
    """The settings that need a fresh base model when they change between runs."""
    return (
        params.model_name,
        params.load_in_4bit,
        params.max_seq_length,
        params.attn_implementation,
        params.chat_template,
    )


def is_vision_language(path: Path, trust_remote_code: bool) -> bool:
    """True when the checkpoint's config is one AutoModelForImageTextToText can load."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True)
    return config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


def load_base(params: TrainParams) -> LoadedBase:
    """Load the base model and its processor as `params` says (4-bit NF4 with double quant).

    Raises:
        UserError: the model folder is missing, or the tokenizer has no chat template.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import_bitsandbytes()  # before transformers or PEFT import it, with its costs deferred
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
        BitsAndBytesConfig,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # PEFT and TRL still read the pre-5.x `is_gradient_checkpointing` name; the warning is
    # theirs to fix and says nothing to a user of lorasearch.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    path = model_path(params.model_name, params.model_revision)
    remote = params.trust_remote_code
    vlm = is_vision_language(path, remote)
    cuda = torch.cuda.is_available()
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "trust_remote_code": remote,
        "local_files_only": True,
        "attn_implementation": params.attn_implementation,
    }
    if params.load_in_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    if cuda:
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    _log.info(
        "Loading %s (%s, %s)",
        path,
        "vision-language" if vlm else "causal LM",
        "4-bit NF4" if params.load_in_4bit else str(dtype).removeprefix("torch."),
    )
    if vlm:
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
        processor = AutoProcessor.from_pretrained(path, trust_remote_code=remote, local_files_only=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        processor = AutoTokenizer.from_pretrained(path, trust_remote_code=remote, local_files_only=True)
    tokenizer = getattr(processor, "tokenizer", processor)
    if params.chat_template is not None:  # the user's, in place of the model's
        template = chat_template_text(params.chat_template)
        tokenizer.chat_template = template
        if processor is not tokenizer:
            processor.chat_template = template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None) and not getattr(processor, "chat_template", None):
        raise UserError(
            f"model_name: {path} has no chat template; lorasearch trains chat-formatted "
            f"prompt/answer pairs, so use an instruction-tuned checkpoint or add a chat_template"
        )
    _disable_cpu_inference_packing(model)
    model.config.use_cache = False
    # The base is never trained, only its adapters: frozen here, it is the same before and
    # after a trial (PEFT freezes it on the first adapter and unload() does not thaw it).
    model.requires_grad_(False)
    model.eval()
    return LoadedBase(
        model,
        processor,
        vlm,
        path,
        "cuda" if cuda else "cpu",
        model_key(params),
        loaded_forward=vars(model).get("forward"),
        loaded_hooks=_hook_ids(model),
    )


def _disable_cpu_inference_packing(model: Any) -> None:
    """Keep bitsandbytes' CPU inference layout off, so training after an eval stays correct.

    On CPUs with AVX512-BF16, bitsandbytes 0.50 repacks a `Linear4bit` weight the first time
    it runs in eval mode, and never packs it back; later training steps then go through the
    inference kernel, which fails on layers with a bias ("a view of a leaf Variable ... in-place")
    and is not meant for gradients. Evaluating between training steps is exactly what a search
    does, so the repacking is switched off. It does not exist on CUDA.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def lora_target_modules(model: Any, include_vision: bool) -> list[str]:
    """Full names of the linear layers that get LoRA: the language model's, the vision
    tower's too with `include_vision`; never the output head."""
    import torch

    head = model.get_output_embeddings()
    names = []
    for name, module in model.named_modules():
        if module is head or not _is_linear(module, torch):
            continue
        if not include_vision and any(marker in name for marker in _VISION_MARKERS):
            continue
        names.append(name)
    if not names:
        raise UserError("model_name: the model has no linear layers to put LoRA on")
    return names


def _is_linear(module: Any, torch: Any) -> bool:
    if isinstance(module, torch.nn.Linear):
        return True
    return type(module).__name__ in ("Linear4bit", "Linear8bitLt")


def attach_lora(base: LoadedBase, params: TrainParams) -> Any:
    """Wrap the base model in a fresh LoRA adapter (seeded, so a trial is reproducible)."""
    import torch
    from peft import get_peft_model

    torch.manual_seed(params.seed)
    return get_peft_model(base.model, lora_config(base, params))


def lora_config(base: LoadedBase, params: TrainParams) -> Any:
    """PEFT's LoraConfig of a trial. Targets: the user's names or PEFT's `all-linear`, else
    lorasearch's own walk (the language model's linear layers, the vision tower's with
    `finetune_vision_layers`), which PEFT's `all-linear` cannot express: it takes the vision
    tower's too."""
    from peft import LoraConfig

    targets = params.lora_target_modules
    exclude = params.lora_exclude_modules
    if targets is None:
        targets = lora_target_modules(base.model, params.finetune_vision_layers)
        if exclude:  # full names here: the ones that end with an excluded name go
            targets = [t for t in targets if not any(t == e or t.endswith("." + e) for e in exclude)]
            exclude = None
    return LoraConfig(
        r=params.lora_r,
        lora_alpha=params.lora_alpha,
        lora_dropout=params.lora_dropout,
        target_modules=targets,
        exclude_modules=exclude,
        use_rslora=params.use_rslora,
        use_dora=params.use_dora,
        task_type="CAUSAL_LM",
        bias="none",
    )


def detach_lora(base: LoadedBase, peft_model: Any) -> None:
    """Remove the adapter and what training switched on, leaving the base as it was loaded
    (`base_signature` tells whether it is)."""
    base.model = peft_model.unload()
    if getattr(base.model, "is_activation_checkpointing", False):
        base.model.activation_checkpointing_disable()
    # PEFT and the trainer each call `enable_input_require_grads`, which forgets the handles of
    # the hooks it added before, so `disable_input_require_grads` would leave one per trial:
    # every hook not there at load time is taken off instead.
    _remove_hooks_since(base.model, base.loaded_hooks or {})
    # Each SFTTrainer wraps the base's forward once more (its fused LM head); unwrapped here,
    # or a long search would call through one wrapper per trial run so far.
    if base.loaded_forward is None:
        vars(base.model).pop("forward", None)
    else:
        base.model.forward = base.loaded_forward
    base.model.config.use_cache = False
    base.model.requires_grad_(False)
    base.model.eval()


_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
# Dicts keyed by the same hook ids, holding a hook's options.
_HOOK_OPTIONS = (
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
)


def _hook_ids(model: Any) -> dict[tuple[str, str], frozenset[int]]:
    return {
        (name, kind): frozenset(getattr(module, kind, {}))
        for name, module in model.named_modules()
        for kind in _HOOK_DICTS
    }


def _remove_hooks_since(model: Any, loaded: dict[tuple[str, str], frozenset[int]]) -> None:
    for name, module in model.named_modules():
        for kind in _HOOK_DICTS:
            hooks = getattr(module, kind, None)
            for hook_id in [h for h in (hooks or {}) if h not in loaded.get((name, kind), ())]:
                del hooks[hook_id]
                for options in _HOOK_OPTIONS:
                    getattr(module, options, {}).pop(hook_id, None)


def base_signature(model: Any) -> tuple[Any, ...]:
    """What must be the same after a trial as after loading for the base to be untouched:
    its modules, the hooks on them, instance-level forwards, trainable parameters, mode."""
    modules = tuple((name, type(m).__name__) for name, m in model.named_modules())
    hooks = sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(getattr(m, "_backward_pre_hooks", ()))
        for m in model.modules()
    )
    forwards = tuple(
        (name, getattr(vars(m)["forward"], "__qualname__", "?"))
        for name, m in model.named_modules()
        if "forward" in vars(m)
    )
    trainable = sum(1 for p in model.parameters() if p.requires_grad)
    return modules, hooks, forwards, trainable, model.training

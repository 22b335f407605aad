"""What the schema alone cannot tell about the options that name a package or a file: checked
before any model loads (validate, search, train), each refusal one line that says what to do.
Only `find_spec`: nothing is imported, so the search parent stays light."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import UserError
from ._params import TrainParams

_PACKAGES = {  # option value -> (module to find, pip name)
    "flash_attention_2": ("flash_attn", "flash-attn"),
    "wandb": ("wandb", "wandb"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "liger": ("liger_kernel", "liger-kernel"),
}


def check_options(params: TrainParams, has_images: bool) -> None:
    """Raises:
    UserError: packing with images, a package an option needs that is not installed, a
        chat_template file that is not there."""
    if params.packing and has_images:
        raise UserError(
            "packing: TRL packs text examples only, and input_data has images; set packing to false"
        )
    wanted = [
        ("attn_implementation", params.attn_implementation),
        ("report_to", params.report_to),
        ("use_liger_kernel", "liger" if params.use_liger_kernel else ""),
    ]
    for key, value in wanted:
        if value in _PACKAGES:
            module, pip = _PACKAGES[value]
            if importlib.util.find_spec(module) is None:
                raise UserError(
                    f"{key}: {value} needs {pip}, which is not installed; pip install {pip}, or change {key}"
                )
    template = params.chat_template
    if template is not None and not is_template_text(template) and not Path(template).expanduser().is_file():
        raise UserError(
            f"chat_template: no file {template}; give a template file or the template text itself"
        )


def is_template_text(value: str) -> bool:
    """A Jinja template rather than a file name: it has template tags."""
    return "{%" in value or "{{" in value


def chat_template_text(value: str) -> str:
    """The template itself, read from its file when `value` names one."""
    return value if is_template_text(value) else Path(value).expanduser().read_text(encoding="utf-8")

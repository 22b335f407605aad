"""`lorasearch validate` without its front end: check a config and its data, load no model.

The report is plain data; the console renders it. Everything here takes seconds at most: the
model folder is only looked up, and lengths are counted with its `tokenizer.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import SearchConfig, check_options
from .data import LengthStats, LoadedData, length_stats, load_data, with_data
from .hub import with_model
from .locate import model_path


@dataclass(frozen=True)
class ValidationReport:
    """What validate found: the config's space, the data's splits, lengths and warnings."""

    config: SearchConfig
    model_dir: Path
    data: LoadedData
    lengths: LengthStats
    warnings: list[str] = field(default_factory=list)


def validate(config: SearchConfig) -> ValidationReport:
    """Check the model folder and the data a config names; return what a user should see.

    Raises:
        UserError: the first problem found, in one line.
    """
    params = with_data(config.params)  # a Hub dataset: downloaded now
    data = load_data(params, with_test=True)  # a broken data file fails in a second, before a model download
    params = with_model(params)
    check_options(params, data.has_images)
    model_dir = model_path(params.model_name, params.model_revision)
    lengths = length_stats([*data.train, *data.val], model_dir, params.max_seq_length)
    warnings = []
    if lengths.over_limit:
        warnings.append(
            f"{lengths.over_limit} examples are longer than max_seq_length ({params.max_seq_length} tokens) "
            f"and will be cut at the end of their answers"
        )
    if data.overlap:
        warnings.append(
            f"{data.overlap} examples are in both train_split and val_split: the eval loss will flatter"
        )
    searched_data_keys = sorted({"input_data", "train_split", "val_split", "instruction"} & set(config.space))
    if searched_data_keys:
        warnings.append(
            f"data checked with the default {', '.join(searched_data_keys)} only (they are searched)"
        )
    return ValidationReport(config, model_dir, data, lengths, warnings)

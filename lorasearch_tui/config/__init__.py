"""The config file: fixed parameters, the search space, and the one loader that checks both."""

from ._checks import chat_template_text, check_options
from ._load import ConfigFile, SearchConfig, config_schema, load_config, parse_config
from ._objective import AT_EVAL, COSTS, GENERATED, NATURAL, Normalize, Objective
from ._overrides import apply_sets
from ._params import DEFAULT_INSTRUCTION, PARAM_NAMES, TrainParams
from ._space import Categorical, IntRange, LogUniform, Uniform, describe, grid_size

__all__ = [
    "apply_sets",
    "chat_template_text",
    "check_options",
    "AT_EVAL",
    "COSTS",
    "GENERATED",
    "NATURAL",
    "Normalize",
    "Objective",
    "DEFAULT_INSTRUCTION",
    "PARAM_NAMES",
    "Categorical",
    "ConfigFile",
    "IntRange",
    "LogUniform",
    "SearchConfig",
    "TrainParams",
    "Uniform",
    "config_schema",
    "describe",
    "grid_size",
    "load_config",
    "parse_config",
]

"""The config file: fixed parameters, the search space, and the one loader that checks both."""

from ._checks import chat_template_text, check_options
from ._enqueue import read_sets
from ._load import SearchConfig, config_schema, load_config, parse_config
from ._objective import Normalize, Objective
from ._overrides import apply_sets
from ._params import PARAM_NAMES, TrainParams
from ._pruner import describe_pruner, pruner_of
from ._shape import draw_order
from ._space import describe, grid_size

__all__ = [
    "apply_sets",
    "chat_template_text",
    "check_options",
    "Normalize",
    "Objective",
    "PARAM_NAMES",
    "SearchConfig",
    "TrainParams",
    "config_schema",
    "describe",
    "describe_pruner",
    "draw_order",
    "pruner_of",
    "grid_size",
    "load_config",
    "parse_config",
    "read_sets",
]

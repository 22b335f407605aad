"""The headless front end: Rich output for a terminal, plain text for a file or a pipe."""

from ._evaluate_view import EvaluateProgress
from ._logging import setup_logging
from ._search_view import SearchConsole
from ._train_view import TrainProgress, print_run_result
from ._validate_view import print_validation

__all__ = [
    "EvaluateProgress",
    "SearchConsole",
    "TrainProgress",
    "print_run_result",
    "print_validation",
    "setup_logging",
]

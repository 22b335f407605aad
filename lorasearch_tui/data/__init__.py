"""Training data: reading records, their kinds, splits, and the checks before any training."""

from ._datasets import with_data
from ._load import LoadedData, data_key, load_data
from ._records import KIND_LABELS, Example
from ._stats import LengthStats, length_stats

__all__ = [
    "KIND_LABELS",
    "Example",
    "LengthStats",
    "LoadedData",
    "data_key",
    "length_stats",
    "load_data",
    "with_data",
]

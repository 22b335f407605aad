"""Training data: reading records, their kinds, splits, and the checks before any training."""

from ._load import LoadedData, load_data
from ._records import KIND_LABELS, Example
from ._stats import LengthStats, length_stats

__all__ = ["KIND_LABELS", "Example", "LengthStats", "LoadedData", "length_stats", "load_data"]

"""The panes of the search screen, each named after what it shows."""

from .config_tree import ConfigTree
from .gpu_panel import GpuPanel
from .header import StudyHeader
from .log_pane import LogPane
from .loss_chart import LossChart
from .trial_table import TrialTable

__all__ = ["ConfigTree", "GpuPanel", "LogPane", "LossChart", "StudyHeader", "TrialTable"]

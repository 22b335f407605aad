"""The config tree: the search space, the fixed parameters, and the running trial's values."""

from __future__ import annotations

from typing import Any

from textual.widgets import Tree

from ...errors import printable
from ...events import SearchState


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else printable(str(value))


class ConfigTree(Tree[str]):
    """Search space first (with the running trial's sampled values beside), then fixed values."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("config", **kwargs)
        self.show_root = False
        self._started: Any = None  # the SearchStarted the tree was built for
        self._leaves: dict[str, Any] = {}  # the search space's leaves, by parameter
        self._labels: dict[str, str] = {}  # what they say now

    def show(self, state: SearchState) -> None:
        started = state.started
        if started is None:
            return
        running = state.trials.get(state.running) if state.running is not None else None
        current = running.params if running else {}
        if started is not self._started:
            self._make(state)
        for name, dist in started.space.items():
            # The running trial's value first: it is what changes, and it must survive a
            # narrow terminal that cuts the end of the line.
            value = f" = {_fmt(current[name])}" if name in current else ""
            label = f"{name}{value}  {dist}"
            if self._labels.get(name) != label:
                # one line redrawn, where rebuilding the tree at every trial's start and end
                # asked the screen for a new layout per leaf (and reset the cursor)
                self._labels[name] = label
                self._leaves[name].set_label(label)

    def _make(self, state: SearchState) -> None:
        started = state.started
        assert started is not None
        self._started = started
        self.clear()
        space = self.root.add("search space", expand=True)
        self._labels = {name: f"{name}  {dist}" for name, dist in started.space.items()}
        self._leaves = {name: space.add_leaf(label) for name, label in self._labels.items()}
        fixed = self.root.add("fixed", expand=True)
        for name, value in started.fixed.items():
            fixed.add_leaf(f"{name}: {_fmt(value)}")

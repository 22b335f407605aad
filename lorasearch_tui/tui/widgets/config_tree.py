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
        self._shown: tuple[Any, ...] | None = None

    def show(self, state: SearchState) -> None:
        started = state.started
        if started is None:
            return
        running = state.trials.get(state.running) if state.running is not None else None
        current = running.params if running else {}
        key = (started.study_name, tuple(sorted(current.items())))
        if key == self._shown:
            return  # rebuilding a tree resets its cursor; only do it when something changed
        self._shown = key
        self.clear()
        space = self.root.add("search space", expand=True)
        for name, dist in started.space.items():
            # The running trial's value first: it is what changes, and it must survive a
            # narrow terminal that cuts the end of the line.
            value = f" = {_fmt(current[name])}" if name in current else ""
            space.add_leaf(f"{name}{value}  {dist}")
        fixed = self.root.add("fixed", expand=True)
        for name, value in started.fixed.items():
            fixed.add_leaf(f"{name}: {_fmt(value)}")

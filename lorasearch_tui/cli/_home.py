"""The home screen's source of studies and configs (`tui.home.HomeSource`): the bridge between
the terminal UI, which never reads a study itself, and the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class HomeStudies:
    """The home screen's source (`tui.home.HomeSource`): the studies of every
    `optuna_studies/*.db` (and of LORASEARCH_STORAGE when it is set), a study's report as Rich
    renderables, and the configs of `configs/` and `configs/examples/` with their check."""

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}

    def studies(self) -> list[Any]:
        import os

        from ..results import list_studies, storages_here

        storages = storages_here()
        if os.environ.get("LORASEARCH_STORAGE"):
            storages.append(os.environ["LORASEARCH_STORAGE"])
        found = []
        for url in storages:
            for summary in list_studies([url]):
                self._urls[summary.name] = url
                found.append(summary)
        return sorted(found, key=lambda s: s.name)

    def storage_of(self, name: str) -> str | None:
        return self._urls.get(name)

    def report(self, name: str) -> Any:
        from rich.text import Text

        from ..errors import RunFailure, UserError
        from ..report import study_view
        from ..results import look

        try:
            return study_view(look(name, self._urls.get(name)))
        except (UserError, RunFailure) as exc:
            return Text(str(exc), style="red")

    def configs(self) -> list[Path]:
        """The configs of `configs/` and `configs/examples/` that `search` can run: a fixed
        config (no search_space, for `train`) is left out. One that does not load stays, so
        that picking it shows why."""
        from ..config import load_config
        from ..errors import UserError

        def searchable(path: Path) -> bool:
            try:
                return bool(load_config(path).space)
            except UserError:
                return True

        found = [*sorted(Path("configs").glob("*.json")), *sorted(Path("configs/examples").glob("*.json"))]
        return [path for path in found if searchable(path)]

    def check_config(self, path: Path) -> str | None:
        from ..config import load_config
        from ..errors import UserError

        try:
            load_config(path)
        except UserError as exc:
            return str(exc)
        return None

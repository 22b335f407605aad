"""The engine never imports the UI libraries, and nothing imports torch before it trains.

Each module is imported in a fresh interpreter, as harlequin's test_import_hygiene does, so
one test's imports cannot hide another's.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ENGINE = [
    "lorasearch_tui",
    "lorasearch_tui.errors",
    "lorasearch_tui.splits",
    "lorasearch_tui.locate",
    "lorasearch_tui.config",
    "lorasearch_tui.data",
    "lorasearch_tui.demo",
    "lorasearch_tui.training",
    "lorasearch_tui.validate",
    "lorasearch_tui.search",
    "lorasearch_tui.search._watch",
    "lorasearch_tui.search._state",
    "lorasearch_tui.worker",
]
UI = ("textual", "rich", "typer")
HEAVY = ("torch", "transformers", "peft", "trl", "datasets", "bitsandbytes")


def imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ENGINE)
def test_engine_modules_import_no_ui_and_no_training_stack(module):
    loaded = imported_after(module)
    assert not loaded & set(UI), f"{module} imports {loaded & set(UI)}"
    assert not loaded & set(HEAVY), f"{module} imports {loaded & set(HEAVY)}"


def test_the_cli_starts_without_the_training_stack():
    loaded = imported_after("lorasearch_tui.cli")
    assert not loaded & set(HEAVY)

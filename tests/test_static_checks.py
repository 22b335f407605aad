"""The static checks every change passes: ruff's lint rules (complexity included) and its
formatting, over the package, the tests and the benches, with the settings in pyproject.toml.
The import contracts are checked in test_import_hygiene.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.parametrize("check", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(check):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *check, "--no-cache", "lorasearch_tui", "tests", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

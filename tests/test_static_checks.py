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


def test_every_mutant_still_names_a_line_and_its_tests():
    """`bench/mutants.py` breaks one line per rule; a line moved or reworded makes its mutant
    stale, and the bench would only say so when someone runs it. Each mutant's line is in its
    file exactly once, and each test it names exists."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import mutants
    finally:
        sys.path.pop(0)
    for mutant in mutants.MUTANTS:
        text = (REPO / mutant.file).read_text()
        assert text.count(mutant.old) == 1, (
            f"{mutant.name}: {mutant.file} holds {mutant.old!r} {text.count(mutant.old)} times"
        )
        for test in mutant.tests:
            path, _, name = test.partition("::")
            assert (REPO / path).is_file(), f"{mutant.name}: no {path}"
            if name:
                assert f"def {name.split('[')[0]}(" in (REPO / path).read_text(), f"{mutant.name}: no {test}"

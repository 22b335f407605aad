"""The engine never imports the UI libraries, and nothing imports torch before it trains.

Each module is imported in a fresh interpreter, as harlequin's test_import_hygiene does, so
one test's imports cannot hide another's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

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
    "lorasearch_tui.store",
    "lorasearch_tui.hardware",
    "lorasearch_tui.events",
    "lorasearch_tui.results",
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


def test_the_cli_starts_without_the_training_stack_or_the_plotting_libraries():
    """`lorasearch --help` stays fast: plotly and matplotlib load only in the commands that draw."""
    loaded = imported_after("lorasearch_tui.cli")
    assert not loaded & set(HEAVY)
    assert not loaded & {"plotly", "matplotlib", "optuna_dashboard", "optuna"}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter's contracts of `pyproject.toml`, over the package found under `root`."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_hold():
    run = lint_imports(REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "7 kept, 0 broken" in run.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("events/_records.py", "import rich", "The engine never imports"),
        ("tui/widgets/header.py", "from ...search import SearchRunner", "Front ends see the engine"),
        ("console/_search_view.py", "from ..worker import Run", "Front ends see the engine"),
        ("events/_sink.py", "from ..search import _runner", "The events stand alone"),
        ("results/_rows.py", "import plotly", "The engine never imports"),
        ("report/_export.py", "from ..tui import SearchApp", "The result renderers"),
        ("store/_files.py", "from ..search import SearchRunner", "The store never imports"),
        ("store/_watch.py", "from ..worker import WorkerProcess", "The store never imports"),
        ("results/_open.py", "from ..search import SearchOptions", "Results, reports and the results"),
        ("cli/results.py", "from ..search import SearchRunner", "Results, reports and the results"),
        ("cli/train.py", "from .search import run_search", "No command module imports another"),
        ("tui/app.py", "from ..store import StudyWatcher", "Front ends see the engine"),
    ],
)
def test_the_contracts_catch_an_import_across_the_line(tmp_path, module, line, broken):
    """The contracts are not vacuous: one forbidden import added to a copy breaks them."""
    shutil.copytree(
        REPO / "lorasearch_tui", tmp_path / "lorasearch_tui", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "lorasearch_tui" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0 and " 0 broken" not in run.stdout, run.stdout + run.stderr
    assert broken in run.stdout.split("Broken contracts")[1]


LOAD_4BIT = """
import sys
from lorasearch_tui.config import TrainParams
from lorasearch_tui.training import load_base
load_base(TrainParams(model_name=sys.argv[1], max_seq_length=64))
print("compile_fx" if "torch._inductor.compile_fx" in sys.modules else "no compile_fx")
"""


def test_a_4bit_load_leaves_torch_compile_for_the_first_call(tiny_llama):
    """bitsandbytes' `torch.compile` wrappers cost no import until a kernel runs (~0.9 s a worker).

    Mutation: `load_base` without `import_bitsandbytes()` (Inductor's compile_fx loads).
    """
    run = subprocess.run(
        [sys.executable, "-c", LOAD_4BIT, str(tiny_llama)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["no", "compile_fx"], run.stdout + run.stderr[-3000:]


def test_a_deferred_compile_compiles_once_at_the_first_call():
    """The same compile with the same options, only later: at the first call, and only once."""
    import torch

    from lorasearch_tui.training._bnb_import import deferred_compile

    calls = []

    def compile_(fn, **options):
        calls.append(options)
        return torch.compile(fn, backend="eager", **options)

    @deferred_compile(compile_)(dynamic=False)
    def double(x):
        return x * 2

    assert calls == [] and double.__name__ == "double"
    x = torch.arange(4.0)
    assert torch.equal(double(x), x * 2) and torch.equal(double(x + 1), (x + 1) * 2)
    assert calls == [{"dynamic": False}]


def test_a_compile_that_refuses_leaves_the_plain_function_without_asking_again():
    """As bitsandbytes' own wrapper does when `torch.compile` raises at import."""
    from lorasearch_tui.training._bnb_import import deferred_compile

    asked = []

    def refuses(fn, **options):
        asked.append(options)
        raise RuntimeError("torch.compile is not supported on this Python")

    double = deferred_compile(refuses)(lambda x: x * 2)
    assert asked == [] and double(3) == 6 and double(4) == 8
    assert asked == [{}]

"""Through which modules does a searched value travel, from the config file to TRL's SFTConfig?

The cost of a new training parameter is the number of modules it passes through. This runs a
one-trial search (the demo model, `lorasearch search --no-tui`, a real worker) whose
`learning_rate` is a categorical of two odd values, with a profile hook in the parent and in the
worker (a `sitecustomize.py` put first on PYTHONPATH) that notes every lorasearch module with a
function whose arguments or locals hold one of those values (as a number, in a dict, a list, or
an object's fields, two levels deep). It prints the modules, in the order the value reached them.

    .venv/bin/python bench/value_path.py

Takes about a minute on 2 CPU cores (the hook slows Python calls down several times). Issue 20
asked for at most 8 modules in a search.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VALUES = (0.0123457, 0.0234568)

HOOK = """
import os, sys, threading

_OUT = os.environ["VALUE_PATH_OUT"]
_VALUES = {values!r}
_seen = set()


def _holds(v, depth=0):
    if isinstance(v, float):
        return v in _VALUES
    if depth > 2 or isinstance(v, (str, bytes, int, bool)) or v is None:
        return False
    if isinstance(v, dict):
        return any(_holds(x, depth + 1) for x in list(v.values())[:80])
    if isinstance(v, (list, tuple)):
        return any(_holds(x, depth + 1) for x in v[:80])
    fields = getattr(v, "__dict__", None)
    if isinstance(fields, dict) and type(v).__module__.startswith(("lorasearch_tui", "optuna", "trl")):
        return any(_holds(x, depth + 1) for x in list(fields.values())[:80])
    return False


_done = []


def _note(text):
    with open(_OUT, "a") as out:
        out.write(f"{{os.getpid()}} {{text}}\\n")


def _hook(frame, event, arg):
    if _done:
        return
    name = frame.f_globals.get("__name__", "")
    code = frame.f_code.co_name
    # The end of the road: the worker builds TRL's SFTConfig; the parent sends the trial's
    # config down the pipe (what it does with the value after that is no part of the road).
    end = name == "lorasearch_tui.worker._process" and code == "send"
    if name.startswith("trl.") and code == "__init__":
        end = type(frame.f_locals.get("self")).__name__ == "SFTConfig"
    if end and event == "call":
        try:
            if any(_holds(v) for v in list(frame.f_locals.values())):
                _note(f"{{name}} {{code}} END")
                _done.append(1)
        except Exception:
            pass
        return
    if not name.startswith("lorasearch_tui") or name in _seen:
        return
    try:
        found = any(_holds(v) for v in list(frame.f_locals.values()))
    except Exception:
        return
    if found:
        _seen.add(name)
        with open(_OUT, "a") as out:
            out.write(f"{{os.getpid()}} {{name}} {{frame.f_code.co_name}}\\n")


sys.setprofile(_hook)
threading.setprofile(_hook)
"""


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        hooks = folder / "hooks"
        hooks.mkdir()
        (hooks / "sitecustomize.py").write_text(HOOK.format(values=VALUES))
        out = folder / "seen.txt"
        config = {
            "max_seq_length": 256,
            "per_device_train_batch_size": 4,
            "max_steps": 2,
            "eval_steps": 2,
            "val_split": "train[95%:]",
            "search_space": {"learning_rate": {"type": "categorical", "choices": list(VALUES)}},
        }
        (folder / "search.json").write_text(json.dumps(config))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(hooks), str(REPO), os.environ.get("PYTHONPATH", "")]),
            "VALUE_PATH_OUT": str(out),
        }
        run = subprocess.run(
            [sys.executable, "-m", "lorasearch_tui", "search", "--no-tui", "--config", "search.json"]
            + ["--n-trials", "1", "--study-name", "v"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if run.returncode != 0:
            print(run.stdout[-2000:], run.stderr[-2000:], sep="\n")
            return 1
        lines = out.read_text().splitlines() if out.exists() else []
    parent = lines[0].split()[0] if lines else ""
    modules: list[str] = []
    ends = 0
    for line in lines:
        pid, module, function, *end = line.split()
        where = "parent" if pid == parent else "worker"
        print(f"{where:<7} {module:<45} {function} {' '.join(end)}")
        ends += bool(end)
        if not end and module not in modules:
            modules.append(module)
    named = sorted(str(p.relative_to(REPO)) for p in (REPO / "lorasearch_tui").rglob("*.py") if _names_it(p))
    print(f"\n{len(modules)} modules hold the searched learning_rate on its way to SFTConfig", end="")
    print("" if ends == 2 else " (the road's two ends were not both seen: the count is not whole)")
    print(f"{len(named)} modules name it in code (a new training parameter is written there):")
    print("  " + "\n  ".join(named))
    return 0 if ends == 2 else 1


def _names_it(path: Path) -> bool:
    """Whether the module's code (not its comments or docstrings) names `learning_rate`: as an
    identifier or attribute, or as a string of its own (a dict key)."""
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type == tokenize.NAME and token.string == "learning_rate":
                return True
            if token.type == tokenize.STRING and token.string.strip("\"'") == "learning_rate":
                return True
    return False


if __name__ == "__main__":
    sys.exit(main())

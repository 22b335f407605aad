"""The pictures of a study: Optuna's plots, as self-contained HTML (plotly, plotly.js inlined:
they open offline) or PNG (matplotlib, no browser needed).

A plot that needs more trials than the study has is skipped with a one-line reason, never an
exception. The plots are drawn from an in-memory copy of the study holding only the trials it
ran (not the ones a runner created and gave up because the target was met), so nothing here
can write to the user's storage.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..events import TrialOutcome
from ..results import MIN_TRIALS


@dataclass(frozen=True)
class Plot:
    name: str  # file stem: history, importances, ...
    title: str
    reason: str | None  # why it was skipped, or None
    make: Callable[[Any, str], Any] | None = None  # (study, "plotly"|"matplotlib") -> figure / axes


def looking_copy(study: Any, rows: list[TrialOutcome]) -> Any:
    """An in-memory study with the trials the study ran (as `rows` lists them)."""
    import optuna

    keep = {row.number for row in rows if not row.imported}  # imported: measured on other data
    copy = optuna.create_study(study_name=study.study_name, directions=study.directions)
    copy.add_trials([t for t in study.get_trials(deepcopy=True) if t.number in keep])
    return copy


def plotly_plots() -> Any:
    """`optuna.visualization` (its plotly plots) without importing matplotlib.

    The package imports its matplotlib twin at import, and with it `matplotlib.pyplot`: ~0.4 s
    of a core at the end of every search (the report draws with plotly only), most of the time
    between the last step and the prompt. So the first import runs with matplotlib marked
    absent, which Optuna's `try_import` records in `optuna.visualization.matplotlib`; that
    half-imported twin is then dropped from `sys.modules`, so a later
    `import optuna.visualization.matplotlib` (a PNG) imports it afresh, with matplotlib.
    Optuna's plotly code reads the twin's state in one place only, `plot_rank`'s colours when
    plotly is missing, which the report never meets. `tests/test_results.py` checks both halves.
    """
    if "optuna.visualization" in sys.modules or "matplotlib" in sys.modules:
        import optuna.visualization

        return optuna.visualization
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # `import matplotlib` fails
    try:
        import optuna.visualization
    finally:
        if sys.modules.get("matplotlib", False) is None:  # still our mark
            del sys.modules["matplotlib"]
        for name in [m for m in sys.modules if m.startswith("optuna.visualization.matplotlib")]:
            del sys.modules[name]
        package = sys.modules.get("optuna.visualization")
        if package is not None:
            vars(package).pop("matplotlib", None)
    return optuna.visualization


def plans(
    copy: Any, names: list[str], metric: str = "eval_loss", objectives: tuple[str, ...] = ()
) -> list[Plot]:
    """Every plot of the study `copy` (see `looking_copy`), with the reason when it cannot
    have it yet. With several objectives the plots of one value show the first objective, and
    the Pareto front comes first."""
    trials = copy.get_trials(deepcopy=False)
    complete = sum(t.state.name == "COMPLETE" for t in trials)
    curves = sum(bool(t.intermediate_values) for t in trials)

    def need(n: int, what: str = "complete trials") -> str | None:
        have = complete if what == "complete trials" else curves
        return None if have >= n else f"needs {n} {what}, the study has {have}"

    def vis(name: str) -> Callable[[Any, str], Any]:
        def make(study: Any, kind: str) -> Any:
            if kind == "plotly":
                module = plotly_plots()
            else:
                import optuna.visualization.matplotlib as module
            kwargs: dict[str, Any] = {}
            if name == "plot_pareto_front":
                kwargs["target_names"] = list(objectives)
                if len(objectives) > 3:  # Optuna draws 2 or 3: the first two then
                    kwargs["targets"] = lambda t: (t.values[0], t.values[1])
                    kwargs["target_names"] = list(objectives[:2])
            elif len(objectives) > 1 and name not in ("plot_intermediate_values", "plot_timeline"):
                kwargs["target"] = lambda t: t.values[0]
                kwargs["target_name"] = metric
            if name == "plot_param_importances":
                from optuna.importance import PedAnovaImportanceEvaluator

                kwargs["evaluator"] = PedAnovaImportanceEvaluator()
            drawn = getattr(module, name)(study, **kwargs)
            if name in ("plot_optimization_history", "plot_intermediate_values"):
                # the objective has a name here: say it instead of Optuna's "Objective Value"
                if kind == "plotly":
                    drawn.update_layout(yaxis_title=metric)
                else:
                    drawn.set_ylabel(metric)
            return drawn

        return make

    two = None if len(names) >= 2 else f"needs two searched parameters, the study has {len(names)}"
    front = (
        [Plot("pareto", f"Pareto front: {', '.join(objectives)}", need(1), vis("plot_pareto_front"))]
        if len(objectives) > 1
        else []
    )
    return [
        *front,
        Plot("history", "Optimization history", need(1), vis("plot_optimization_history")),
        Plot("importances", "Parameter importances", need(MIN_TRIALS), vis("plot_param_importances")),
        Plot("parallel", "Parallel coordinates", need(2), vis("plot_parallel_coordinate")),
        Plot("slice", "Slice", need(1), vis("plot_slice")),
        Plot("contour", "Contour", two or need(3), vis("plot_contour")),
        Plot(
            "intermediate",
            f"{metric} of every trial at each eval (pruned ones too)",
            "Optuna keeps no values per eval in a study of several objectives (each trial's curves "
            "are in its metrics.jsonl)"
            if len(objectives) > 1
            else need(1, "trials with evals"),
            vis("plot_intermediate_values"),
        ),
        Plot(
            "timeline",
            "Timeline",
            None if trials else "needs one trial, the study has none",
            vis("plot_timeline"),
        ),
    ]


# One drawing at a time: `_quiet_optuna` swaps process-wide state (a logger's level, the
# warning filters) that two threads drawing at once would restore in the wrong order.
_DRAWING = threading.Lock()


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Draw without Optuna's own notes on stderr.

    `plans` already decides what a study can be drawn as; Optuna's plotting still logs what it
    makes of the data ("[W ...] Param lora_r unique value length is less than 2." when every
    trial drew one value) and warns ExperimentalWarning, which ended a clean search with lines
    that are not lorasearch's. Only `optuna.visualization` is quieted, and only while drawing:
    the search's own Optuna warnings still show.
    """
    logger = logging.getLogger("optuna.visualization")
    with _DRAWING:
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            logger.setLevel(level)


def plotly_figure(plot: Plot, study: Any) -> Any:
    with _quiet_optuna():
        return plot.make(study, "plotly")


def write_plots(
    study: Any,
    rows: list[TrialOutcome],
    names: list[str],
    out: Path,
    fmt: str,
    metric: str = "eval_loss",
    objectives: tuple[str, ...] = (),
) -> list[tuple[Plot, list[Path]]]:
    """Write every plot the study can have into `out`; what was written (or why not) per plot."""
    copy = looking_copy(study, rows)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for plot in plans(copy, names, metric, objectives):
        paths: list[Path] = []
        if plot.reason is None:
            if fmt in ("html", "both"):
                path = out / f"{plot.name}.html"
                plotly_figure(plot, copy).write_html(path, include_plotlyjs=True, full_html=True)
                paths.append(path)
            if fmt in ("png", "both"):
                try:
                    paths.append(_write_png(plot, copy, out / f"{plot.name}.png"))
                except ImportError as exc:  # matplotlib's contour needs scipy, an optional extra
                    plot = replace(plot, reason=f"the PNG needs {exc.name or exc} (pip install {exc.name})")
        written.append((plot, paths))
    return written


def _write_png(plot: Plot, study: Any, path: Path) -> Path:
    import importlib.util

    if plot.name == "contour" and importlib.util.find_spec("scipy") is None:
        raise ImportError("scipy", name="scipy")  # Optuna's matplotlib contour fails without it
    with _quiet_optuna():  # its lock: not while `plotly_plots` marks matplotlib absent
        import matplotlib

        matplotlib.use("Agg")  # no display: files only
        import matplotlib.pyplot as plt

        drawn = plot.make(study, "matplotlib")
    first = drawn.flat[0] if hasattr(drawn, "flat") else drawn  # slice and contour: a grid of axes
    figure = first.figure
    if hasattr(drawn, "flat") or plot.name in ("parallel", "intermediate", "timeline"):
        figure.set_size_inches(max(figure.get_size_inches()[0], 10), max(figure.get_size_inches()[1], 6))
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path

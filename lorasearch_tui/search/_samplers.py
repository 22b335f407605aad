"""Search modes and pruners: our search-space entries turned into Optuna's objects.

- bayesian: `TPESampler`, seeded, multivariate (it models the parameters jointly: a learning
  rate and a LoRA rank interact), with `constant_liar` for trials running in parallel, and a
  random start-up sized to the budget (`tpe_startup`): Optuna's default of 10 random trials
  would leave an 8-trial search without any model at all. It reads constraints
  (`Trial.set_constraint`) of COMPLETE and PRUNED trials, which is how an out-of-memory trial
  teaches it to stay away (see _runner).
- random: `RandomSampler`, seeded with the seed plus the trials already in the study, so a
  resumed search does not draw the same points again.
- grid: `GridSampler` over every `int` step and every `categorical` choice; a float range has
  no grid, and grid mode refuses it by name.
- gp: Optuna's `GPSampler` (a Gaussian process; one or several objectives) after the same
  random start-up as TPE. It needs torch and scipy in the search process: the one mode in
  which the parent imports torch (about 5 s and a few hundred MB once), which is why it is
  not the default. It has no constant liar: parallel workers may get neighbouring points.
- nsga2: `NSGAIISampler`, the genetic algorithm for several objectives, with a population
  sized to the budget (`nsga2_population`).

Pruners (`make_pruner`) are built from the config's `pruner` block or `--pruner NAME` with
its defaults; what each judges, and why its defaults, is in `config/_pruner.py`.
"""

from __future__ import annotations

from typing import Any

from ..choices import MODES, PRUNERS
from ..config import draw_order, grid_size, pruner_of
from ..config._space import _Dist
from ..errors import UserError
from ..store import nsga2_population, tpe_startup

MAX_GRID = 100_000  # a grid larger than this could never run anyway (a trial takes minutes)
SEED_SPACE = 2**32  # numpy's seeds: 0 .. 2**32 - 1


def ask(study: Any, space: dict[str, _Dist]) -> Any:
    """A new trial (or the next queued one) with its parameters drawn in their order, each only
    where its `when` holds: Optuna's define-by-run, the suggestions Optuna's own
    `ask(fixed_distributions)` makes, one parameter after another."""
    trial = study.ask()
    drawn: dict[str, Any] = {}
    for name in draw_order(space):
        if space[name].applies(drawn):
            drawn[name] = space[name].suggest(trial, name)
    return trial


def grid_values(space: dict[str, _Dist]) -> dict[str, list[Any]]:
    """Every value of every parameter, for grid mode.

    Raises:
        UserError: a parameter is a float range, which has no grid, or the grid is too large
            to list (Optuna's grid sampler holds every combination in memory).
    """
    for name, dist in space.items():
        if dist.grid_count() is None:
            raise UserError(
                f"search_space.{name}: grid mode needs int or categorical entries, and {name} is "
                f"a {dist.type} range; list the values as categorical choices or use --search-mode bayesian"
            )
    size = grid_size(space) or 0
    if size > MAX_GRID:
        raise UserError(
            f"search_space: the grid has {size:,} combinations, more than grid mode lists "
            f"({MAX_GRID:,}); give int entries a larger step, or use --search-mode bayesian"
        )
    return {name: dist.grid_values() for name, dist in space.items()}


def make_sampler(
    mode: str, space: dict[str, _Dist], seed: int, trials_so_far: int, n_trials: int = 20
) -> Any:
    """The sampler of a search mode (`n_trials`: the study's size, for TPE's start-up)."""
    import warnings

    import optuna

    # A resumed search must not draw the same points again, so the seed moves on with the
    # trials already run; modulo numpy's seed range, so seed 2**32 - 1 resumes too.
    moved = (seed + trials_so_far) % SEED_SPACE
    if mode == "bayesian":
        # constant_liar: trials running in parallel (other workers, other hosts) count as bad
        # results meanwhile, so that the sampler does not propose their neighbourhood again.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate
            return optuna.samplers.TPESampler(
                seed=moved,
                constant_liar=True,
                multivariate=True,
                # a space whose entries are searched only under conditions: TPE models each
                # set of parameters drawn together (else those apart are drawn at random)
                group=any(d.when for d in space.values()),
                n_startup_trials=tpe_startup(n_trials),
            )
    if mode == "random":
        return optuna.samplers.RandomSampler(seed=moved)
    if mode == "gp":
        return optuna.samplers.GPSampler(seed=moved, n_startup_trials=tpe_startup(n_trials))
    if mode == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=nsga2_population(n_trials), seed=moved)
    if mode == "grid":

        class _Grid(optuna.samplers.GridSampler):
            def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
                # GridSampler calls Study.stop() after the last point, which Optuna allows only
                # inside study.optimize(); our loop uses ask/tell and stops by counting trials.
                pass

        return _Grid(grid_values(space), seed=seed)
    raise UserError(f"--search-mode: unknown mode '{mode}'; use one of {', '.join(MODES)}")


def make_pruner(name: str, block: Any, eval_steps: int) -> Any:
    """The pruner a search runs, by its name: the config's `pruner` block when it names the
    same one, else that pruner with its defaults (`config/_pruner.py`); `none` never prunes.

    Raises:
        UserError: an unknown name, or one that has no defaults (threshold needs its bounds).
    """
    from pydantic import ValidationError

    if name not in PRUNERS:
        raise UserError(f"--pruner: unknown pruner '{name}'; use one of {', '.join(PRUNERS)}")
    try:
        chosen = pruner_of(name, block)
    except ValidationError:
        raise UserError(
            f'--pruner {name}: it needs its options in the config, like "pruner": {{"type": "{name}", '
            '"upper": 3.0}; see `lorasearch schema`'
        ) from None
    return _build(chosen.optuna_form(eval_steps))


def _build(form: tuple[str, dict[str, Any]]) -> Any:
    """An Optuna pruner from its form (a wrapped pruner's form built first)."""
    import warnings

    import optuna

    kind, args = form
    args = {k: _build(v) if isinstance(v, tuple) else v for k, v in args.items()}
    with warnings.catch_warnings():  # PatientPruner is "experimental" since Optuna 2.8: no news
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if kind == "WilcoxonPruner":
            return _wilcoxon_against_our_best(**args)
        return getattr(optuna.pruners, kind)(**args)


def _wilcoxon_against_our_best(**args: Any) -> Any:
    """Optuna's Wilcoxon pruner, judging against the best trial this study trained: Optuna's
    `study.best_trial` may be an imported one (`--warm-start-from`), whose records were scored
    on other data, or under keys of another pruner."""
    import optuna

    from ..store import best_trial

    class _OwnBest:
        def __init__(self, study: Any) -> None:
            self._study = study

        def __getattr__(self, name: str) -> Any:
            return getattr(self._study, name)

        @property
        def best_trial(self) -> Any:
            best = best_trial(self._study)
            if best is None:
                raise ValueError("no trial of its own is complete yet")  # Optuna's: no best yet
            return best

    class _Wilcoxon(optuna.pruners.WilcoxonPruner):
        def prune(self, study: Any, trial: Any) -> bool:
            return super().prune(_OwnBest(study), trial)

    return _Wilcoxon(**args)

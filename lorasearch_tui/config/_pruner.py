"""The `pruner` block of the config: which pruner stops unpromising trials, with its options.

`--pruner NAME` picks one by name with its defaults (the block's options when the block names
the same one). Each kind says what Optuna builds from it (`optuna_form`, in the words of
`optuna.pruners`, so the config never imports Optuna) and how a person reads it (`describe`,
shown in the header and stored in the study with the config). All judge the eval reported
at each `eval_steps`, never the last one (a trial trained to its end keeps its value).

- `median`, `percentile`: a trial worse than the median (a percentile) of the complete
  trials at the same step stops, once `startup_trials` have completed, from the second eval
  on, and only where at least 2 complete trials reached that step.
- `hyperband`, `successive_halving` (ASHA): rungs of `eval_steps` times powers of
  `reduction_factor`; at each, only the best 1/`reduction_factor` go on.
- `patient`: stops a trial whose eval has not improved (by `min_delta`) for `patience` evals;
  with `wraps`, only if that pruner agrees too.
- `threshold`: stops a trial whose eval leaves [`lower`, `upper`]: a diverging trial stops at
  its first eval, whatever the other trials did.
- `wilcoxon`: for a generated metric (CER, WER, exact match), the one measured record by
  record: at each eval the worker sends every scored record's value, and a trial stops when
  a Wilcoxon signed-rank test says it is worse than the best trial on the same records at the
  same step (p < `p_threshold`). Where two trials differ by noise on a few records, the
  median of corpus values cannot tell; the paired test can.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_TRIALS_AT_A_STEP = 2  # a median (a percentile) of one trial is no median


class _Pruner(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        """The class in `optuna.pruners` and its arguments (a nested pruner as a form too)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short human form: `percentile(25%)`."""
        raise NotImplementedError


class Median(_Pruner):
    type: Literal["median"]
    startup_trials: int = Field(2, ge=0, description="Complete trials before it judges any.")

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        return "MedianPruner", {
            "n_startup_trials": self.startup_trials,
            "n_warmup_steps": eval_steps + 1,  # never the first eval
            "n_min_trials": MIN_TRIALS_AT_A_STEP,
        }

    def describe(self) -> str:
        return "median"


class Percentile(_Pruner):
    type: Literal["percentile"]
    percentile: float = Field(25.0, gt=0, lt=100, description="Keep trials better than this percentile.")
    startup_trials: int = Field(2, ge=0, description="Complete trials before it judges any.")

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        return "PercentilePruner", {
            "percentile": self.percentile,
            "n_startup_trials": self.startup_trials,
            "n_warmup_steps": eval_steps + 1,
            "n_min_trials": MIN_TRIALS_AT_A_STEP,
        }

    def describe(self) -> str:
        return f"percentile({self.percentile:g}%)"


class Hyperband(_Pruner):
    type: Literal["hyperband"]
    reduction_factor: int = Field(3, ge=2, description="1/reduction_factor of the trials go on at a rung.")

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        return "HyperbandPruner", {"min_resource": eval_steps, "reduction_factor": self.reduction_factor}

    def describe(self) -> str:
        return "hyperband" if self.reduction_factor == 3 else f"hyperband(x{self.reduction_factor})"


class SuccessiveHalving(_Pruner):
    type: Literal["successive_halving"]
    reduction_factor: int = Field(4, ge=2, description="1/reduction_factor of the trials go on at a rung.")
    min_early_stopping_rate: int = Field(
        0, ge=0, description="Rungs skipped: the first rung is at eval_steps x reduction_factor**this."
    )

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        return "SuccessiveHalvingPruner", {
            "min_resource": eval_steps,
            "reduction_factor": self.reduction_factor,
            "min_early_stopping_rate": self.min_early_stopping_rate,
        }

    def describe(self) -> str:
        return f"successive_halving(x{self.reduction_factor})"


class Threshold(_Pruner):
    type: Literal["threshold"]
    lower: float | None = Field(None, description="Stop a trial whose eval falls below this.")
    upper: float | None = Field(None, description="Stop a trial whose eval rises above this.")

    @model_validator(mode="after")
    def _bounded(self) -> Threshold:
        if self.lower is None and self.upper is None:
            raise ValueError('give "lower", "upper" or both')
        if self.lower is not None and self.upper is not None and not self.lower < self.upper:
            raise ValueError(f"lower ({self.lower}) must be less than upper ({self.upper})")
        return self

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        return "ThresholdPruner", {"lower": self.lower, "upper": self.upper}

    def describe(self) -> str:
        bounds = [f"lower {self.lower:g}"] if self.lower is not None else []
        bounds += [f"upper {self.upper:g}"] if self.upper is not None else []
        return f"threshold({', '.join(bounds)})"


Wrapped = Annotated[
    Median | Percentile | Hyperband | SuccessiveHalving | Threshold, Field(discriminator="type")
]


class Patient(_Pruner):
    type: Literal["patient"]
    patience: int = Field(2, ge=0, description="Evals without improvement a trial may have.")
    min_delta: float = Field(0.0, ge=0, description="What counts as an improvement.")
    wraps: Wrapped | None = Field(None, description="Another pruner that must agree (none: patience alone).")

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        wrapped = self.wraps.optuna_form(eval_steps) if self.wraps is not None else None
        return "PatientPruner", {
            "wrapped_pruner": wrapped,
            "patience": self.patience,
            "min_delta": self.min_delta,
        }

    def describe(self) -> str:
        inner = f", {self.wraps.describe()}" if self.wraps is not None else ""
        return f"patient({self.patience}{inner})"


class Wilcoxon(_Pruner):
    type: Literal["wilcoxon"]
    p_threshold: float = Field(
        0.1, gt=0, lt=1, description="Stop a trial worse than the best at this significance."
    )

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        # n_startup_steps counts records: a trial is judged from its first eval on
        return "WilcoxonPruner", {"p_threshold": self.p_threshold, "n_startup_steps": 2}

    def describe(self) -> str:
        return f"wilcoxon(p<{self.p_threshold:g})"


class NoPruner(_Pruner):
    type: Literal["none"]

    def optuna_form(self, eval_steps: int) -> tuple[str, dict[str, Any]]:
        return "NopPruner", {}

    def describe(self) -> str:
        return "none"


PrunerBlock = Annotated[
    Median | Percentile | Hyperband | SuccessiveHalving | Threshold | Patient | Wilcoxon | NoPruner,
    Field(discriminator="type"),
]
PRUNER_KINDS: dict[str, type[_Pruner]] = {
    "median": Median,
    "percentile": Percentile,
    "hyperband": Hyperband,
    "successive_halving": SuccessiveHalving,
    "threshold": Threshold,
    "patient": Patient,
    "wilcoxon": Wilcoxon,
    "none": NoPruner,
}


def describe_pruner(name: str, block: _Pruner | None) -> str:
    """How the header, `watch` and `studies` show the pruner a study runs: `percentile(25%)`."""
    try:
        return pruner_of(name, block).describe()
    except (KeyError, ValueError):  # a study made by another version: its name as it is
        return name


def pruner_of(name: str, block: _Pruner | None) -> _Pruner:
    """The pruner a search runs: the config's block when it names `name`, else `name` with its
    defaults.

    Raises:
        ValueError: `name` has no defaults to run with (threshold needs its bounds).
    """
    if block is not None and getattr(block, "type", None) == name:
        return block
    return PRUNER_KINDS[name].model_validate({"type": name})

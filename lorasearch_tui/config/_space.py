"""The `search_space` entries: one distribution per searched parameter.

Five kinds, chosen by the entry's `type`. Each knows its own values for a grid (`grid_values`,
None where the range is continuous), so the grid rule lives in one place.

A space may be shaped the way LoRA is: `multiple_of` defines a parameter from another
(`lora_alpha` as 1, 2 or 4 times `lora_r`: a flat space would waste trials on meaningless
pairs), and any entry's `when` searches it only while other parameters have given values
(`lora_dropout` only without DoRA). The study stores what was drawn (the factor); a trial
trains with what it means (`resolve`: the product), and the tables show that. The space as a
whole (`_shape.py`) orders the entries so that each is drawn after what it depends on, and
refuses unknown names and cycles.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = bool | int | float | str | None


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    when: dict[str, Scalar] | None = Field(
        None,
        description='Search it only while these searched parameters have these values, e.g. {"use_dora": '
        "false}; otherwise the fixed value applies and the trial draws nothing for it.",
    )

    def depends_on(self) -> list[str]:
        """The parameters that must be drawn (or fixed) before this one."""
        return list(self.when or {})

    def applies(self, values: dict[str, Any]) -> bool:
        """Whether it is searched in a trial whose parameters so far are `values`."""
        return all(_same_value(values.get(k), v) for k, v in (self.when or {}).items())

    def resolve(self, value: Any, values: dict[str, Any]) -> Any:
        """What a trial trains with when this entry drew `value` (the trial's other values in
        `values`): the value itself, but for an entry defined from another."""
        return value

    def unresolve(self, value: Any, values: dict[str, Any]) -> Any:
        """What was drawn for a trial that trained with `value` (a best config's): `resolve`
        undone."""
        return value

    def condition(self) -> str:
        """` when use_dora=False`, or ""."""
        return "".join(f" when {k}={v}" for k, v in (self.when or {}).items())

    def grid_values(self) -> list[Any] | None:
        """Every value a grid search tries, or None for a continuous range."""
        return None

    def grid_count(self) -> int | None:
        """How many values a grid search tries (counted, not listed), or None."""
        return None

    def candidate_values(self) -> dict[str, Any]:
        """The values that must be valid for the parameter, by their key in the entry."""
        raise NotImplementedError

    def optuna_form(self) -> tuple[str, dict[str, Any]]:
        """Optuna's distribution of this entry, for `study.ask`: the class name in
        `optuna.distributions` and its arguments (the config never imports Optuna itself: the
        front ends that read a config must not reach it)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short human form: `loguniform(1e-05, 0.0005)`."""
        raise NotImplementedError

    def suggest(self, trial: Any, name: str) -> Any:
        """Draw it in an Optuna trial (define-by-run), with Optuna's public suggestion of the
        distribution `optuna_form` names."""
        kind, args = self.optuna_form()
        method = {
            "FloatDistribution": trial.suggest_float,
            "IntDistribution": trial.suggest_int,
            "CategoricalDistribution": trial.suggest_categorical,
        }[kind]
        return method(name, **args)

    def refuses(self, value: Any) -> str | None:
        """Why `value` is not one this entry can draw (a known set to run, `enqueue`), or None."""
        raise NotImplementedError

    def as_drawn(self, value: Any) -> Any:
        """An accepted value in the type a trial draws (`16.0` of an int range is `16`)."""
        return value


def _number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _outside(value: Any, low: float, high: float, whole: bool = False) -> str | None:
    """Why a number is not in [low, high] (or not a whole number when `whole`), or None."""
    if isinstance(value, str) and _number_text(value):  # YAML 1.1 reads 2e-4 as text
        return f"{value!r} is text, not a number (in YAML, write 2.0e-4 for 2e-4)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a number"
    if whole and not (isinstance(value, int) or float(value).is_integer()):
        return f"{value!r} is not a whole number"
    if not low <= value <= high:
        return f"{value!r} is outside [{low:g}, {high:g}]"
    return None


class LogUniform(_Dist):
    """A float drawn on a log scale between `low` and `high`: for learning rates."""

    type: Literal["loguniform"]
    low: float = Field(gt=0, description="Smallest value, > 0.")
    high: float = Field(gt=0, description="Largest value, > low.")

    @model_validator(mode="after")
    def _ordered(self) -> LogUniform:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be less than high ({self.high})")
        return self

    def candidate_values(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def optuna_form(self) -> tuple[str, dict[str, Any]]:
        return "FloatDistribution", {"low": self.low, "high": self.high, "log": True}

    def describe(self) -> str:
        return f"loguniform({self.low:g}, {self.high:g})"

    def refuses(self, value: Any) -> str | None:
        return _outside(value, self.low, self.high)


class Uniform(_Dist):
    """A float drawn evenly between `low` and `high`."""

    type: Literal["uniform"]
    low: float = Field(description="Smallest value.")
    high: float = Field(description="Largest value, >= low.")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def candidate_values(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def optuna_form(self) -> tuple[str, dict[str, Any]]:
        return "FloatDistribution", {"low": self.low, "high": self.high}

    def describe(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"

    def refuses(self, value: Any) -> str | None:
        return _outside(value, self.low, self.high)


class IntRange(_Dist):
    """An integer from `low` to `high` inclusive, in steps of `step`."""

    type: Literal["int"]
    low: int = Field(description="Smallest value.")
    high: int = Field(description="Largest value, >= low.")
    step: int = Field(1, ge=1, description="Distance between values, >= 1.")

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def grid_values(self) -> list[Any]:
        return list(range(self.low, self.high + 1, self.step))

    def grid_count(self) -> int:
        return (self.high - self.low) // self.step + 1

    def candidate_values(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def optuna_form(self) -> tuple[str, dict[str, Any]]:
        last = self.low + (self.high - self.low) // self.step * self.step  # Optuna wants it on the steps
        return "IntDistribution", {"low": self.low, "high": last, "step": self.step}

    def describe(self) -> str:
        if self.step != 1:
            return f"int({self.low}, {self.high}, step={self.step})"
        return f"int({self.low:g}, {self.high:g})"

    def refuses(self, value: Any) -> str | None:
        why = _outside(value, self.low, self.high, whole=True)
        if why is None and (int(value) - self.low) % self.step:
            why = f"{value!r} is not on the steps of {self.step} from {self.low}"
        return why

    def as_drawn(self, value: Any) -> Any:
        return int(value)


class Categorical(_Dist):
    """One of the listed `choices` (JSON scalars)."""

    type: Literal["categorical"]
    choices: list[Scalar] = Field(min_length=1, description="The values to try, at least one.")

    def grid_values(self) -> list[Any]:
        return list(self.choices)

    def grid_count(self) -> int:
        return len(self.choices)

    def candidate_values(self) -> dict[str, Any]:
        return {f"choices[{i}]": value for i, value in enumerate(self.choices)}

    def optuna_form(self) -> tuple[str, dict[str, Any]]:
        return "CategoricalDistribution", {"choices": self.choices}

    def describe(self) -> str:
        return f"categorical{self.choices}"

    def refuses(self, value: Any) -> str | None:
        same = [c for c in self.choices if c == value and type(c) is type(value)]
        return None if same else f"{value!r} is not one of the choices {self.choices}"


class MultipleOf(_Dist):
    """A multiple of another parameter: `lora_alpha` as 1, 2 or 4 times `lora_r`. The study
    stores the factor drawn; the trial trains with the product."""

    type: Literal["multiple_of"]
    of: str = Field(description="The parameter it multiplies (searched as int or categorical, or fixed).")
    choices: list[int | float] = Field(min_length=1, description="The factors to try, each > 0.")

    @model_validator(mode="after")
    def _positive(self) -> MultipleOf:
        if any(isinstance(c, bool) or c <= 0 for c in self.choices):
            raise ValueError(f"every factor must be a number > 0 (got {self.choices})")
        return self

    def depends_on(self) -> list[str]:
        return [*super().depends_on(), self.of]

    def resolve(self, value: Any, values: dict[str, Any]) -> Any:
        product = value * values[self.of]
        return int(product) if float(product).is_integer() else product

    def unresolve(self, value: Any, values: dict[str, Any]) -> Any:
        base = values.get(self.of)
        if isinstance(value, bool) or not isinstance(value, int | float) or not base:
            return value  # not a product: refused as a factor by `refuses`
        factor = value / base
        return int(factor) if float(factor).is_integer() else factor

    def grid_values(self) -> list[Any]:
        return list(self.choices)

    def grid_count(self) -> int:
        return len(self.choices)

    def candidate_values(self) -> dict[str, Any]:
        return {}  # what counts is the products, which `_shape.check_shape` checks with `of`'s values

    def optuna_form(self) -> tuple[str, dict[str, Any]]:
        return "CategoricalDistribution", {"choices": self.choices}

    def describe(self) -> str:
        return f"{self.of} x {self.choices}"

    def refuses(self, value: Any) -> str | None:
        same = [c for c in self.choices if c == value and not isinstance(value, bool)]
        return None if same else f"{value!r} is not one of the factors {self.choices}"


Distribution = Annotated[
    LogUniform | Uniform | IntRange | Categorical | MultipleOf, Field(discriminator="type")
]
DIST_TYPES = ("loguniform", "uniform", "int", "categorical", "multiple_of")
KINDS: dict[str, type[_Dist]] = {
    "loguniform": LogUniform,
    "uniform": Uniform,
    "int": IntRange,
    "categorical": Categorical,
    "multiple_of": MultipleOf,
}


def _same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind: a condition on `true` is not met by `1`."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def grid_size(space: dict[str, _Dist]) -> int | None:
    """Number of combinations of a grid over `space`, or None if a range is continuous."""
    total = 1
    for dist in space.values():
        count = dist.grid_count()
        if count is None:
            return None
        total *= count
    return total


def describe(dist: _Dist) -> str:
    """A short human form of a distribution: `loguniform(1e-05, 0.0005)`, `uniform(0, 0.1)
    when use_dora=False`."""
    return dist.describe() + dist.condition()

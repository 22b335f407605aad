"""The `search_space` entries: one distribution per searched parameter.

Four kinds, chosen by the entry's `type`. Each knows its own values for a grid (`grid_values`,
None where the range is continuous), so the grid rule lives in one place.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = bool | int | float | str | None


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

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


Distribution = Annotated[LogUniform | Uniform | IntRange | Categorical, Field(discriminator="type")]
DIST_TYPES = ("loguniform", "uniform", "int", "categorical")


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
    """A short human form of a distribution: `loguniform(1e-05, 0.0005)`."""
    return dist.describe()

"""The base of every event record: a frozen, strictly checked pydantic dataclass."""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass
from typing_extensions import dataclass_transform

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
Count = Annotated[int, Field(ge=0)]
_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """A frozen, strictly checked pydantic dataclass (`dataclass_transform` tells type
    checkers that the decorated class takes its fields as constructor arguments)."""
    return dataclass(frozen=True, config=_STRICT)(cls)  # type: ignore[return-value]  # the same class

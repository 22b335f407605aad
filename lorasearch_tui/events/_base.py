"""The base of every record that crosses a pipe or a file: a frozen, strictly checked pydantic
dataclass, and the one codec that writes and reads any of them as a line of JSON."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
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


@dataclass_transform(frozen_default=True, kw_only_default=True)
def keyword_record(cls: type[_T]) -> type[_T]:
    """A `record` built by keyword only (its fields may then come in any order)."""
    return dataclass(frozen=True, config=_STRICT, kw_only=True)(cls)  # type: ignore[return-value]


class RecordError(ValueError):
    """A line that is none of a codec's records: `where` names the field, `what` the problem."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where, self.what = where, what


class Codec:
    """One encoder and one decoder for a union of records told apart by a tag field (`event` for
    the events, `cmd` for the parent's commands to a worker): a record is one line of JSON, its
    fields plus the tag. Decoding is strict (exact types, finite numbers, no unknown field),
    because a line may come from a process killed mid-write, another version, or an edited file.
    """

    _by_type: dict[type, TypeAdapter[Any]] = {}

    def __init__(self, union: Any, tag: str, name: str) -> None:
        """`name`: what a record is called where an error names no field ("event", "message")."""
        self._adapter: TypeAdapter[Any] = TypeAdapter(Annotated[union, Field(discriminator=tag)])
        self._name = name

    @classmethod
    def encode(cls, record: Any) -> bytes:
        """Any record as one line of JSON, newline included."""
        adapter = cls._by_type.get(type(record))
        if adapter is None:
            adapter = cls._by_type[type(record)] = TypeAdapter(type(record))
        return adapter.dump_json(record) + b"\n"

    def decode(self, line: bytes | str) -> Any:
        """The record on one line. Raises RecordError naming the field that was wrong."""
        try:
            return self._adapter.validate_json(line, strict=True)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise RecordError(".".join(str(p) for p in error["loc"]) or self._name, error["msg"]) from None

"""One encoder and one decoder for every event: the pipe, `metrics.jsonl` and `watch` use them.

A line is the event's fields as JSON plus its `event` tag. Decoding is strict (exact types,
finite numbers, no unknown field), because a line may come from a worker killed mid-write, a
different version, or a file someone edited: a line that fails is an `EventError` (the pipe
fails the trial with it) or, read from a file, skipped (`decode_lines`).
"""

from __future__ import annotations

from ._base import Codec, RecordError
from ._records import Event

_EVENTS = Codec(Event, "event", "event")


class EventError(ValueError):
    """A line that is no event."""


def encode(event: Event) -> bytes:
    """The event as one line of JSON, newline included."""
    return Codec.encode(event)


def decode(line: bytes | str) -> Event:
    """The event on one line. Raises EventError naming the field that was wrong."""
    try:
        return _EVENTS.decode(line)  # type: ignore[no-any-return]
    except RecordError as exc:
        raise EventError(str(exc)) from None


def decode_lines(data: bytes) -> list[Event]:
    """The events of some lines of a file; a broken or foreign line is skipped.

    `metrics.jsonl` is written while a watcher reads it and survives crashes and full disks: a
    half-written line must not stop anyone reading the rest.
    """
    events = []
    for line in data.split(b"\n"):
        if line.strip():
            try:
                events.append(decode(line))
            except (EventError, RecursionError):
                continue
    return events

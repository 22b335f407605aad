"""Small helpers for driving the terminal UI with Textual's Pilot."""

from __future__ import annotations

import time


def text_of(widget) -> str:
    """What a widget shows, as plain text."""
    return str(widget.render())


async def wait_until(pilot, predicate, timeout: float = 120.0) -> None:
    """Let the app run until `predicate()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.1)

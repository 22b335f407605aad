"""The messages the engine's thread sends to the app.

Events are queued and one `EventsArrived` message wakes the app to drain the queue; a newer
one replaces one still waiting (`can_replace`), so a burst of training steps costs one
refresh, not one per step, and no event is ever dropped.
"""

from __future__ import annotations

import queue
import threading

from textual.message import Message

from ..events import Event


class EventsArrived(Message):
    """Events are waiting in the sink's queue."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsArrived)


class LogLine(Message):
    """A line for the log pane (engine log records, worker log tail)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TuiSink:
    """The engine's sink in the terminal UI: queue the event, wake the app (thread-safe)."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._app = None
        self._woken = threading.Event()  # an EventsArrived is on its way and not yet drained

    def attach(self, app) -> None:  # noqa: ANN001 - a textual App
        self._app = app

    def emit(self, event: Event) -> None:
        self.queue.put(event)
        # one wake-up for a burst: the app drains everything queued when it wakes
        if self._app is not None and not self._woken.is_set():
            self._woken.set()
            self._app.post_message(EventsArrived())

    def drain(self) -> list[Event]:
        self._woken.clear()  # before draining: an event queued from here on wakes the app again
        events = []
        while True:
            try:
                events.append(self.queue.get_nowait())
            except queue.Empty:
                return events

"""The terminal UI front end (Textual). The engine never imports this package."""

from .app import SearchApp

__all__ = ["SearchApp"]

"""The terminal UI front end (Textual). The engine never imports this package."""

from .app import SearchApp
from .home import HomeApp, HomeChoice

__all__ = ["HomeApp", "HomeChoice", "SearchApp"]

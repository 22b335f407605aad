"""Where the engine's log lines go: standard error, one line each, no colours in a file."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def setup_logging(verbose: bool = False) -> None:
    """Send `lorasearch.*` log records to stderr; libraries' chatter only with `verbose`."""
    handler = RichHandler(
        console=Console(stderr=True),
        show_time=False,
        show_path=False,
        show_level=verbose,
        markup=False,
        rich_tracebacks=False,
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("lorasearch").setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        # bitsandbytes says at import that an optional CPU kernel package is absent; it is
        # optional, and the warning would greet every user of a CPU machine.
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

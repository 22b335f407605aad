"""`python -m lorasearch_tui.worker READ_FD WRITE_FD`: started by the search, never by hand."""

from __future__ import annotations

import logging
import signal
import sys

from ._loop import Worker, die_with_parent
from ._messages import decode_command
from ._protocol import Channel


def main(argv: list[str]) -> int:
    read_fd, write_fd = int(argv[1]), int(argv[2])
    die_with_parent()
    # Ctrl+C belongs to the parent, which decides what happens to the running trial.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    Worker(Channel(read_fd, write_fd, decode_command)).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

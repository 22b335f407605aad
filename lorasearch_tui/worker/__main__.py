"""`python -m lorasearch_tui.worker READ_FD WRITE_FD`: started by the search, never by hand."""

from __future__ import annotations

import logging
import os
import signal
import sys

from ._loop import Worker, die_with_parent
from ._messages import decode_command
from ._protocol import Channel


def main(argv: list[str]) -> int:
    read_fd, write_fd = int(argv[1]), int(argv[2])
    die_with_parent()
    # Ctrl+C and a scheduler's SIGUSR1 (the time limit is near; Slurm may send it to every
    # process of the job) belong to the parent, which decides what happens to the trial.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    worker = Worker(Channel(read_fd, write_fd, decode_command))
    worker.serve()
    if not worker.reported:
        # Every result is the parent's already, and the parent waits for this exit at the end
        # of a search: skip the interpreter's teardown (torch, transformers and the model freed
        # module by module, ~1 s). A reporting integration may finish its run at exit: not then.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

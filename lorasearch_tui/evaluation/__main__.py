"""`python -m lorasearch_tui.evaluation JOB.json`: the evaluate worker (`_worker.py`)."""

import sys

from ._worker import main

sys.exit(main(sys.argv[1:]))

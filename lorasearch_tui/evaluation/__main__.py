"""`python -m lorasearch_tui.evaluation JOB.json`: the evaluate worker (`_worker.py`)."""

import os
import sys

from ._worker import main

code = main(sys.argv[1:])
# Every answer is on disk and every line said: skip the interpreter's teardown (torch, the
# model and the libraries freed module by module, ~1 s the parent would wait for).
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)

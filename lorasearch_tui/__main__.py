"""`python -m lorasearch_tui` runs the CLI."""

from .cli import main

main()

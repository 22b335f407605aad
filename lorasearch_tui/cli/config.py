"""`lorasearch schema` and `lorasearch validate`: the config file, described and checked."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._shared import ConfigOption, SetOption, user_errors


def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The README's config reference table instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the config file (for editors: "$schema" in your config)."""
    from ..config import config_schema

    if markdown:
        from ..config._reference import reference_markdown

        print(reference_markdown())
        return
    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))


def validate(config: ConfigOption, sets: SetOption = None) -> None:
    """Check a config and its data without loading a model, and show what a run would see."""
    from rich.console import Console

    from ..config import load_config
    from ..console import print_validation, setup_logging
    from ..validate import validate as run_validate

    setup_logging()
    with user_errors():
        report = run_validate(load_config(config, sets=sets))
    print_validation(report, Console())

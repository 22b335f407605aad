"""Where the config's `model_name` and `input_data` point, on this disk.

lorasearch never downloads: a model is a local folder, or a model already in the Hugging Face
cache (looked up offline). `demo:` names stand for the embedded assets and build them on first
use. Relative paths are taken from the current directory, as the shell gives them.
"""

from __future__ import annotations

from pathlib import Path

from . import demo
from .errors import UserError


def data_path(value: str) -> Path:
    """The data file a config's `input_data` names."""
    if demo.is_demo_name(value):
        return _demo(value, "input_data")
    return Path(value).expanduser().resolve()


def model_path(value: str) -> Path:
    """The local folder of a config's `model_name`.

    Raises:
        UserError: the name is neither a folder with a `config.json` nor a cached model.
    """
    if demo.is_demo_name(value):
        return _demo(value, "model_name")
    folder = Path(value).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise UserError(f"model_name: {folder} has no config.json; point it at a model folder")
        return folder.resolve()
    cached = _hub_cache_snapshot(value)
    if cached is not None:
        return cached
    raise UserError(
        f"model_name: '{value}' is not a local folder nor a model in the Hugging Face cache; "
        f"lorasearch never downloads: fetch it first (hf download {value} --local-dir models/NAME) "
        f"and give that folder"
    )


def _hub_cache_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot of a hub id, without touching the network."""
    if repo_id.count("/") != 1 or repo_id.startswith(("/", ".", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: both mean "not here"
        return None
    return folder if (folder / "config.json").is_file() else None


def _demo(value: str, key: str) -> Path:
    try:
        return demo.resolve_demo_name(value)
    except KeyError:
        names = ", ".join(demo.demo_paths())
        raise UserError(f"{key}: unknown demo asset '{value}'; use one of {names}") from None

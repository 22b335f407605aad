"""Where the config's `model_name` and `input_data` point, on this disk.

A model is a local folder, or a Hub id whose files are in the Hugging Face cache (looked up
offline here: `hub.ensure_model` downloads, in the process the user started, before this is
asked). `demo:` names stand for the embedded assets and build them on first use. Relative
paths are taken from the current directory, as the shell gives them.
"""

from __future__ import annotations

from pathlib import Path

from . import demo
from .errors import UserError
from .jsonfile import loads, read_text


def data_path(value: str) -> Path:
    """The data file a config's `input_data` names."""
    if demo.is_demo_name(value):
        return _demo(value, "input_data")
    return Path(value).expanduser().resolve()


def model_path(value: str, revision: str = "main") -> Path:
    """The local folder of a config's `model_name` (a Hub id's at `revision`, from the cache).

    Raises:
        UserError: the name is neither a folder with a `config.json` nor a cached model.
    """
    if demo.is_demo_name(value):
        return _demo(value, "model_name")
    folder = Path(value).expanduser()
    if folder.is_dir():
        check_model_folder(folder)
        return folder.resolve()
    cached = _hub_cache_snapshot(value, revision)
    if cached is not None:
        check_model_folder(cached)
        return cached
    raise UserError(
        f"model_name: '{value}' is not a local folder nor a model in the Hugging Face cache; give a "
        f"model folder, or a Hub id (owner/name) that lorasearch search, train or validate downloads"
    )


def check_model_folder(folder: Path) -> None:
    """What can be known of a model folder without loading it: a config, weights that are
    all there and not cut short, a tokenizer. A broken folder then fails here in a second,
    not in every trial after a minute of imports.

    Raises:
        UserError: what is wrong, in one line.
    """
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UserError(f"model_name: {folder} has no config.json; point it at a model folder")
    try:
        config = loads(read_text(config_file, "model config"), config_file)
    except UserError as exc:
        raise UserError(f"model_name: {exc}") from None
    if not isinstance(config, dict) or not ("model_type" in config or "architectures" in config):
        raise UserError(f"model_name: {config_file} names no model_type; is it a model's config.json?")
    files = {p.name: p for p in folder.iterdir() if p.is_file()}
    weights = [p for name, p in files.items() if name.endswith((".safetensors", ".bin"))]
    if not weights:
        raise UserError(
            f"model_name: {folder} holds no weights (*.safetensors or *.bin); the download may be incomplete"
        )
    for index in (p for name, p in files.items() if name.endswith(".index.json")):
        try:
            shards = set(loads(read_text(index, "weight index"), index).get("weight_map", {}).values())
        except (UserError, AttributeError):
            raise UserError(f"model_name: {index} is not a weight index; download it again") from None
        missing = sorted(s for s in shards if s not in files)
        if missing:
            raise UserError(
                f"model_name: {folder} lacks {len(missing)} of the weight files {index.name} lists, "
                f"first: {missing[0]}; the download is incomplete"
            )
    for weight in weights:
        if weight.suffix == ".safetensors" and not _safetensors_complete(weight):
            raise UserError(f"model_name: {weight} is cut short or not a safetensors file; download it again")
    if not any(name in files for name in _TOKENIZER_FILES):
        raise UserError(
            f"model_name: {folder} has no tokenizer ({', '.join(_TOKENIZER_FILES)}); copy the model's "
            f"tokenizer files into it"
        )


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json")


def _safetensors_complete(path: Path) -> bool:
    """A safetensors file is 8 bytes of header length, a JSON header giving every tensor's
    byte range, and the data: it is complete when it is as long as the header says."""
    import json
    import struct

    try:
        with path.open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > 100 * 2**20:
                return False
            header = json.loads(f.read(length))
        end = max(
            (v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"),
            default=0,
        )
        return path.stat().st_size >= 8 + length + end
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return False


def _hub_cache_snapshot(repo_id: str, revision: str = "main") -> Path | None:
    """The cached snapshot of a hub id, without touching the network."""
    if repo_id.count("/") != 1 or repo_id.startswith(("/", ".", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: both mean "not here"
        return None
    return folder if (folder / "config.json").is_file() else None


def _demo(value: str, key: str) -> Path:
    try:
        return demo.resolve_demo_name(value)
    except KeyError:
        names = ", ".join(demo.demo_paths())
        raise UserError(f"{key}: unknown demo asset '{value}'; use one of {names}") from None

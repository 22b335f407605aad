"""Data the `datasets` library holds: a Hub dataset id and a folder written by `save_to_disk`.

Both are turned, once, into one records file per split (JSON Lines; every `datasets.Image`
column written out as image files) in lorasearch's folder of the datasets cache, keyed by what
identifies the data: the Hub commit and config, or the saved dataset's fingerprint. Why a copy:
every later step (the checks, the statistics, the trial worker) then reads records and image
files exactly as it reads a user's own file, and a trial reads a local, pinned copy without the
network. `datasets`' own offline lookup would not do: it takes the newest cached revision, not
the study's. The cost is one more copy of the images on disk.

A Hub dataset is downloaded by the process the user started (`with_data`, before the study
opens, as models are), through `datasets.load_dataset` with its progress bars, honouring
`HF_TOKEN`, `HF_HOME`, `HF_ENDPOINT` and `HF_HUB_OFFLINE`; its `data_revision` is resolved to a
commit that the study stores, like `model_revision`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..atomic import write_text
from ..errors import UserError
from ..hub import COMMIT, hub_answers, is_hub_dataset_id, is_network_error, offline

DONE = "splits.json"  # written last: a folder without it is an interrupted copy


def is_saved_dataset(path: Path) -> bool:
    """A folder `Dataset.save_to_disk` or `DatasetDict.save_to_disk` wrote."""
    return path.is_dir() and (
        (path / "dataset_dict.json").is_file()
        or ((path / "state.json").is_file() and (path / "dataset_info.json").is_file())
    )


def cache_root() -> Path:
    """lorasearch's folder in the datasets cache, from the environment as it is now (datasets'
    own constant is fixed when it is imported)."""
    explicit = os.environ.get("HF_DATASETS_CACHE")
    if explicit:
        return Path(explicit).expanduser() / "lorasearch"
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "datasets" / "lorasearch"


def saved_splits(path: Path) -> dict[str, Path]:
    """The records file of each split of a `save_to_disk` folder, written on first use.

    Raises:
        UserError: the folder is not one `datasets` can load.
    """
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise UserError(
            f"input_data: {path} is not a dataset datasets.load_from_disk reads ({exc})"
        ) from None
    splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    key = hashlib.sha1(
        json.dumps([str(path.resolve()), sorted((n, d._fingerprint) for n, d in splits.items())]).encode()
    ).hexdigest()
    return _materialized(splits, cache_root() / "saved" / key)


def hub_splits(repo_id: str, config: str | None, revision: str) -> dict[str, Path]:
    """The records files of a Hub dataset at `revision` (a commit, as `with_data` leaves it),
    from the cache only: a trial never downloads.

    Raises:
        UserError: the dataset at that revision was never downloaded on this host.
    """
    folder = _hub_folder(repo_id, config) / _cached_commit(repo_id, config, revision)
    if not (folder / DONE).is_file():
        raise UserError(
            f"input_data: the Hub dataset {repo_id} ({revision}) is not in lorasearch's dataset cache "
            f"on this host; run lorasearch validate with this config to download it"
        )
    return _files(folder)


def with_data(params: Any) -> Any:
    """`params` with `data_revision` resolved to the commit downloaded (a Hub dataset), or as
    they are (a local file or folder)."""
    if not is_hub_dataset_id(params.input_data):
        return params
    commit = ensure_dataset(params.input_data, params.data_config, params.data_revision)
    return params.model_copy(update={"data_revision": commit})


def ensure_dataset(repo_id: str, config: str | None, revision: str = "main") -> str:
    """Download a Hub dataset (one config) and write its records files; its commit hash.

    Raises:
        UserError: offline and not cached, a missing or gated dataset, an unknown revision or
            config, no network, a full disk.
    """
    folder = _hub_folder(repo_id, config)
    commit = _cached_commit(repo_id, config, revision)
    cached = (folder / commit / DONE).is_file()
    if cached and (COMMIT.fullmatch(revision) or offline()):
        return commit  # a commit never changes (and offline, what `main` was is what there is)
    if offline():
        raise UserError(
            f"input_data: the Hub dataset {repo_id} ({revision}) is not in the cache and HF_HUB_OFFLINE is "
            f"set; set HF_HUB_OFFLINE=0 to download it"
        )
    commit = _resolve(repo_id, revision)
    if not (folder / commit / DONE).is_file():
        _materialized(_download(repo_id, config, commit), folder / commit)
    refs = folder / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    write_text(refs / _ref_name(revision), commit)  # what `main` was, for an offline run later
    return commit


def parquet_images(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    """`rows` of a Parquet file with each image cell of `columns` replaced by the path of a file
    holding its bytes (written once, in the cache, keyed by the file's path, size and time)."""
    stat = path.stat()
    key = hashlib.sha1(json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns]).encode()).hexdigest()
    folder = cache_root() / "parquet" / key / "images"
    folder.mkdir(parents=True, exist_ok=True)

    def stored(cell: dict[str, Any] | None) -> str | None:
        if cell and cell.get("bytes") is None and cell.get("path"):  # a path of its own: beside the file
            cell = {"bytes": None, "path": str(path.parent / Path(cell["path"]).expanduser())}
        return _image_file(cell, folder, folder)

    out = []
    for number, row in enumerate(rows):
        row = dict(row)
        for column in columns:
            value = row[column]
            try:
                row[column] = [stored(v) for v in value] if isinstance(value, list) else stored(value)
            except _NoImage as missing:
                raise UserError(
                    f"{path}: row {number}: column '{column}' names the image '{missing}', which holds no "
                    f"bytes and is no file here; write the Parquet file with its images embedded"
                ) from None
        out.append(row)
    return out


def _hub_folder(repo_id: str, config: str | None) -> Path:
    # no data_config is the data set's default config, which may be named anything: not "default"
    return (
        cache_root() / "hub" / repo_id.replace("/", "___") / (f"config-{config}" if config else "no-config")
    )


def _ref_name(revision: str) -> str:
    return revision.replace("/", "%2F")


def _cached_commit(repo_id: str, config: str | None, revision: str) -> str:
    if COMMIT.fullmatch(revision):
        return revision
    ref = _hub_folder(repo_id, config) / "refs" / _ref_name(revision)
    return ref.read_text().strip() if ref.is_file() else revision


def _resolve(repo_id: str, revision: str) -> str:
    """The commit `revision` names on the Hub."""
    from huggingface_hub import HfApi

    try:
        with hub_answers("dataset", repo_id, revision):
            return HfApi().dataset_info(repo_id, revision=revision).sha
    except Exception as exc:
        if is_network_error(exc):
            raise UserError(
                f"input_data: cannot reach the Hub to download {repo_id} ({type(exc).__name__}); check the "
                f"network (or HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to use what is cached"
            ) from None
        raise


def _download(repo_id: str, config: str | None, commit: str) -> dict[str, Any]:
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    try:
        loaded = datasets.load_dataset(repo_id, name=config, revision=commit)
    except ValueError as exc:
        text = _one_line(exc)
        # "BuilderConfig 'x' not found. Available: [...]", "Config name is missing. Please pick..."
        if "config" in text.lower():
            raise UserError(f"data_config: {text}; set data_config to one of those") from None
        raise UserError(f"input_data: datasets cannot load {repo_id}: {text}") from None
    except DatasetNotFoundError as exc:  # the Hub answered its info, but not its files: gated
        raise UserError(
            f"input_data: datasets cannot read {repo_id} ({_one_line(exc)}); if it is gated, accept its "
            f"terms on https://huggingface.co/datasets/{repo_id} and set HF_TOKEN to a token of that account"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"input_data: no space left downloading {repo_id} into the datasets cache; free some, or "
                f"point HF_HOME at a larger disk"
            ) from None
        if isinstance(exc, FileNotFoundError):  # no data files, an empty repo
            raise UserError(f"input_data: datasets finds no data in {repo_id}: {_one_line(exc)}") from None
        raise UserError(
            f"input_data: the download of {repo_id} broke off ({_one_line(exc)}); run the command again"
        ) from None
    except Exception as exc:
        if is_network_error(exc):
            raise UserError(
                f"input_data: the download of {repo_id} broke off ({type(exc).__name__}); check the network "
                f"and run the command again"
            ) from None
        raise
    return dict(loaded)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (the library's lists its choices on the next)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _materialized(splits: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write each split's records (and images) under `folder`, unless they are there."""
    if (folder / DONE).is_file():
        return _files(folder)
    _remove_abandoned(folder)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_all(splits, folder, tmp)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"input_data: no space left writing the records and images of the data set into "
                f"{folder.parent}; free some, or point HF_HOME (or HF_DATASETS_CACHE) at a larger disk"
            ) from None
        raise
    return _files(folder)


def _remove_abandoned(folder: Path) -> None:
    """Copies of `folder` that a killed process left half-written (its pid is gone)."""
    import psutil

    for tmp in folder.parent.glob(f".{folder.name}.*.tmp"):
        pid = tmp.name.removesuffix(".tmp").rsplit(".", 1)[-1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _write_all(splits: dict[str, Any], folder: Path, tmp: Path) -> None:
    (tmp / "images").mkdir(parents=True)
    try:
        names = {}
        for i, (name, split) in enumerate(splits.items()):
            names[name] = f"split-{i}.jsonl"  # a split's name may hold any character
            _write_split(split, name, tmp / names[name], folder / "images", tmp / "images")
        (tmp / DONE).write_text(json.dumps(names))
        try:
            tmp.rename(folder)
        except OSError:  # another process wrote it meanwhile: theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / DONE).is_file():
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _files(folder: Path) -> dict[str, Path]:
    return {name: folder / file for name, file in json.loads((folder / DONE).read_text()).items()}


def _write_split(split: Any, name: str, out: Path, final_images: Path, tmp_images: Path) -> None:
    """One JSON line per row; each image (a `datasets.Image` cell, or a list of them) becomes
    the path of a file in `images/`, named by its content."""
    import datasets

    kinds = {}
    for column, feature in split.features.items():
        if isinstance(feature, datasets.Image):
            kinds[column] = "one"
            split = split.cast_column(column, datasets.Image(decode=False))
        elif isinstance(getattr(feature, "feature", None), datasets.Image):
            kinds[column] = "list"
            split = split.cast_column(column, datasets.List(datasets.Image(decode=False)))
    from huggingface_hub.utils import tqdm  # the hub's bars: HF_HUB_DISABLE_PROGRESS_BARS quiets them

    rows = tqdm(split, desc=f"Writing the {name} split", unit=" records", total=len(split))
    with out.open("w", encoding="utf-8") as f:
        for number, row in enumerate(rows):
            for column, kind in kinds.items():
                value = row[column]
                try:
                    if kind == "one":
                        row[column] = _image_file(value, final_images, tmp_images)
                    else:
                        row[column] = [_image_file(v, final_images, tmp_images) for v in value or []]
                except _NoImage as missing:
                    raise UserError(
                        f"input_data: split '{name}', row {number}: column '{column}' names the image "
                        f"'{missing}', which holds no bytes and is no file here; save the data set with "
                        f"its images embedded"
                    ) from None
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


class _NoImage(Exception):
    """An image cell with no bytes, naming a file that is not here."""


def _image_file(cell: dict[str, Any] | None, final: Path, tmp: Path) -> str | None:
    """The file an image cell is stored in: its bytes written once, named by their content. A
    cell without bytes names a file (datasets keeps the path of an image it did not embed,
    in its own cache): that file's bytes are copied, so the copy depends on nothing else."""
    if cell is None:
        return None
    data, path = cell.get("bytes"), cell.get("path")
    if data is None:
        if not path:
            return None
        if not (Path(path).is_absolute() and Path(path).is_file()):
            raise _NoImage(path)
        data = Path(path).read_bytes()
    suffix = Path(path).suffix.lower() if path else ""
    if not suffix:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as img:
                suffix = "." + (img.format or "bin").lower()
        except Exception:  # a broken image is reported by the image checks, with its record
            suffix = ".bin"
    name = hashlib.sha1(data).hexdigest() + suffix
    target = tmp / name
    if not target.exists():  # written beside, then renamed: a reader never sees half an image
        part = target.with_name(f".{name}.{os.getpid()}.tmp")
        part.write_bytes(data)
        part.replace(target)
    return str(final / name)

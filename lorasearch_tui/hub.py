"""Models by Hugging Face Hub id: downloaded once, by the process the user started, before any
trial (a trial, a worker, never touches the network: it finds the files in the cache).

`model_name: "google/gemma-3-12b-it"` that is not a local folder is a Hub id. `ensure_model`
resolves `model_revision` (a branch, tag or commit; `main` by default) to its commit hash and
downloads what loading needs (config, weights, tokenizer and processor files) into the Hugging
Face cache with the hub's own progress bars, honouring `HF_TOKEN`, `HF_HOME` and
`HF_HUB_OFFLINE=1` (then the cache alone is used). The search stores the commit hash in the
study, so every trial and every `--resume` trains the same weights. Each way it can fail is one
line that says what to do.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UserError

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
COMMIT = re.compile(r"[0-9a-f]{40}")
# what loading a model needs: no other weight formats, no repo extras (images, ONNX, GGUF)
LOAD_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


def is_hub_id(value: str) -> bool:
    """`owner/name` that is not a path on this disk (a folder there wins)."""
    return bool(HUB_ID.fullmatch(value)) and not Path(value).expanduser().exists()


DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".yaml", ".yml", ".txt")


def is_hub_dataset_id(value: str) -> bool:
    """A Hub dataset id: `owner/name` that is no path here and does not end like a data file
    (a mistyped `data/train.jsonl` is a missing file, not a dataset to look for)."""
    return is_hub_id(value) and not value.lower().endswith(DATA_SUFFIXES)


def is_network_error(exc: BaseException) -> bool:
    """No route, refused, DNS, a timeout: an OSError, or the HTTP client's own errors (httpx's,
    or httpx2's, which huggingface_hub 2.4 uses; neither is an OSError)."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in (
        "httpx",
        "httpx2",
        "httpcore",
    )


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def hub_answers(kind: str, repo_id: str, revision: str) -> Iterator[None]:
    """The Hub's refusals of a model or data set (gated, no such revision, no such repo) as one
    line that names the config key and says what to do; anything else passes through.

    Args:
        kind: "model" or "dataset": which config keys and which Hub page the line names.
    """
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    model = kind == "model"
    key, revision_key = ("model_name", "model_revision") if model else ("input_data", "data_revision")
    what = repo_id if model else f"the dataset {repo_id}"
    page = f"https://huggingface.co/{'' if model else 'datasets/'}{repo_id}"
    try:
        yield
    except GatedRepoError:
        raise UserError(
            f"{key}: {what} is gated; accept its terms on {page} and set HF_TOKEN to a token of that account"
        ) from None
    except RevisionNotFoundError:
        raise UserError(
            f"{revision_key}: {what} has no revision '{revision}'; give a branch, tag or commit"
        ) from None
    except RepositoryNotFoundError:
        hint = "check the name, or give a local folder" if model else "no local file has that path either"
        raise UserError(
            f"{key}: no {kind} '{repo_id}' on the Hub (or it is private: set HF_TOKEN); {hint}"
        ) from None


def ensure_model(repo_id: str, revision: str = "main", trust_remote_code: bool = False) -> tuple[Path, str]:
    """The model's folder in the cache and its commit hash, downloading what is missing.

    Raises:
        UserError: offline and not cached, a missing or gated repo, an unknown revision, no
            network, a full disk.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    patterns = LOAD_PATTERNS + (["*.py"] if trust_remote_code else [])
    try:
        with hub_answers("model", repo_id, revision):
            try:
                folder = Path(
                    snapshot_download(
                        repo_id, revision=revision, allow_patterns=patterns, local_files_only=offline()
                    )
                )
            except LocalEntryNotFoundError as exc:
                # snapshot_download reports a Hub answer it could not use this way too, the answer
                # (no such repo, gated, no such revision) in its cause: that one is the user's
                cause = _cause(exc, (GatedRepoError, RevisionNotFoundError, RepositoryNotFoundError))
                raise cause or exc from None
    except LocalEntryNotFoundError:
        if offline():
            raise UserError(
                f"model_name: {repo_id} ({revision}) is not in the Hugging Face cache and HF_HUB_OFFLINE is "
                f"set; set HF_HUB_OFFLINE=0 to download it"
            ) from None
        raise UserError(
            f"model_name: cannot reach the Hub to download {repo_id}; check the network (or HF_ENDPOINT), "
            f"or set HF_HUB_OFFLINE=1 to use what is cached"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"model_name: no space left downloading {repo_id} into the Hugging Face cache; free some, "
                f"or point HF_HOME at a larger disk"
            ) from None
        raise
    commit = folder.name if COMMIT.fullmatch(folder.name) else revision
    return folder, commit


def _cause(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of `kinds` in the chain of causes of `exc`."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def with_model(params: Any) -> Any:
    """`params` with `model_revision` resolved to the commit downloaded (a Hub model), or as
    they are (a local folder, a demo asset)."""
    if not is_hub_id(params.model_name):
        return params
    _, commit = ensure_model(params.model_name, params.model_revision, params.trust_remote_code)
    return params.model_copy(update={"model_revision": commit})


def check_push(repo_id: str) -> None:
    """What can be known of an upload before the minutes of merging it.

    Raises:
        UserError: offline, or not a repo id.
    """
    if not HUB_ID.fullmatch(repo_id):
        raise UserError(f"--push-to-hub: '{repo_id}' is not a repo id; give owner/name")
    if offline():
        raise UserError("--push-to-hub: HF_HUB_OFFLINE is set; set HF_HUB_OFFLINE=0 to upload")


def push_folder(folder: Path, repo_id: str, private: bool = False) -> str:
    """Upload a merged model's folder to a model repo (made when missing); the commit's URL.

    Only `lorasearch merge --push-to-hub` calls it: the one upload, named by the user.

    Raises:
        UserError: offline, no token or one without write access, an invalid repo id, no network.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    check_push(repo_id)
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=folder, repo_id=repo_id, commit_message="Upload a model merged by lorasearch"
        )
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            raise UserError(
                f"--push-to-hub: the Hub refused the upload to {repo_id} ({status}); set HF_TOKEN to a token "
                f"with write access to it"
            ) from None
        raise UserError(
            f"--push-to-hub: the Hub refused the upload to {repo_id}: {str(exc).splitlines()[0]}"
        ) from None
    except Exception as exc:
        if not is_network_error(exc):
            raise
        raise UserError(
            f"--push-to-hub: cannot reach the Hub to upload to {repo_id} ({type(exc).__name__}); check the "
            f"network (or HF_ENDPOINT); the merged model stays in {folder}"
        ) from None
    return str(getattr(commit, "commit_url", commit))

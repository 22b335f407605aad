"""A shared artifact store: each complete trial's adapter and result file, where every host
finds them.

`--artifacts URL` (or `LORASEARCH_ARTIFACTS`): `file:///shared/path` (a folder every host
mounts) or `s3://bucket[/prefix]` (through boto3, its credentials, region and endpoint only
from its own environment: `AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`...). Built on Optuna's
artifact stores, so optuna-dashboard lists them as the trial's artifacts. The URL is kept in
the study (`lorasearch_artifacts`): the results commands find it there, no flag needed.

The search's parent uploads when it records a COMPLETE trial: the adapter folder as one tar
and its generations (the trial's artifacts), then `trial_results.json` (the study's,
`trial_N_trial_results.json`: Optuna adds no artifact to a finished trial). Optuna's
`Backoff` retries a failed write; one that still fails is said in one line and never fails
the trial. `fetch_adapter` brings them into a local cache (`$LORASEARCH_CACHE_DIR`, else
`~/.cache/lorasearch`, `artifacts/STUDY/trial_N-ID/`, ID the upload's) when the trial's
folder is not on this host.
"""

from __future__ import annotations

import logging
import os
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from ..errors import UserError
from ._outcomes import TRIAL_RESULTS

_log = logging.getLogger("lorasearch.search")  # said among the search's lines
ARTIFACTS_ATTR = "lorasearch_artifacts"  # the study's artifact store URL
ENV_VAR = "LORASEARCH_ARTIFACTS"
ADAPTER_TAR = "adapter.tar"


class _Prefixed:
    """An artifact store whose ids live under `prefix/` (Optuna's Boto3 store writes them at
    the bucket's root)."""

    def __init__(self, inner: Any, prefix: str) -> None:
        self._inner, self._prefix = inner, prefix.strip("/")

    def _key(self, artifact_id: str) -> str:
        return f"{self._prefix}/{artifact_id}" if self._prefix else artifact_id

    def open_reader(self, artifact_id: str) -> IO[bytes]:
        return self._inner.open_reader(self._key(artifact_id))

    def write(self, artifact_id: str, content_body: IO[bytes]) -> None:
        self._inner.write(self._key(artifact_id), content_body)

    def remove(self, artifact_id: str) -> None:
        self._inner.remove(self._key(artifact_id))


def check_artifacts_url(url: str | None) -> None:
    """Refuse a URL that names no store this can open, before anything is written (None: no
    store given).

    Raises:
        UserError: neither `file:///PATH` nor `s3://BUCKET[/PREFIX]`, or boto3 is missing.
    """
    if url is None:
        return
    parsed = urlparse(url)
    if parsed.username or parsed.password:  # kept in the study, shown by optuna-dashboard
        raise UserError(
            "--artifacts: put no credentials in the URL; boto3 reads them from its environment "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or a profile)"
        )
    if parsed.scheme == "file" and parsed.path.startswith("/") and not parsed.netloc:
        return
    if parsed.scheme == "s3" and parsed.netloc:
        try:
            import boto3  # noqa: F401
        except ImportError:
            raise UserError(
                f"--artifacts {url}: boto3 is not installed; pip install 'lorasearch-tui[s3]'"
            ) from None
        return
    raise UserError(f"--artifacts: {url!r} is neither file:///PATH nor s3://BUCKET[/PREFIX]")


def open_artifacts(url: str) -> Any:
    """The artifact store `url` names, with Optuna's retries around it."""
    from optuna.artifacts import Backoff, Boto3ArtifactStore, FileSystemArtifactStore

    check_artifacts_url(url)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        folder = Path(unquote(parsed.path))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--artifacts {url}: cannot make {folder}: {exc.strerror}") from None
        store: Any = FileSystemArtifactStore(folder)
    else:
        import boto3
        from botocore.config import Config

        # short waits: the search's loop uploads (a dead endpoint must not hold it for minutes
        # with botocore's defaults, 60 s a connection times its retries, times Backoff's)
        quick = Config(connect_timeout=10, read_timeout=120, retries={"max_attempts": 2, "mode": "standard"})
        client = boto3.client("s3", config=quick)
        store = _Prefixed(Boto3ArtifactStore(parsed.netloc, client=client), parsed.path)
    # Backoff logs every failed try with its traceback; the search says a failed upload in one
    # line of its own (and a results command in its one-line error), so its log stays quiet
    logging.getLogger("optuna.artifacts._backoff").setLevel(logging.CRITICAL)
    return Backoff(store, max_retries=3, min_delay=0.5, max_delay=2)


def upload_trial(trial: Any, folder: Path, store: Any) -> list[str]:
    """Upload a complete trial's adapter (one tar) and its generations as the trial's artifacts;
    the names sent. Called while the trial still runs: Optuna records an artifact in the
    trial's attributes, which a finished trial no longer takes.

    Raises whatever the store raised once its retries are spent (the caller says it in one
    line and goes on)."""
    from optuna.artifacts import upload_artifact

    sent = []
    with tempfile.TemporaryDirectory(prefix="lorasearch-upload-") as tmp:
        adapter = folder / "adapter"
        if adapter.is_dir():
            tar = Path(tmp) / ADAPTER_TAR
            with tarfile.open(tar, "w") as out:
                out.add(adapter, arcname="adapter")
            upload_artifact(artifact_store=store, file_path=str(tar), study_or_trial=trial)
            sent.append(ADAPTER_TAR)
    for generations in sorted(folder.glob("*generations.jsonl")):
        upload_artifact(artifact_store=store, file_path=str(generations), study_or_trial=trial)
        sent.append(generations.name)
    return sent


def send_or_say(number: int, folder: Path, send: Callable[[], Any]) -> None:
    """Send trial `number`'s files to the store: retried by the store, then said in one line if
    it still fails; never the trial's failure (its files stay in `folder`)."""
    from ._storage import first_line

    try:
        send()
    except Exception as exc:  # noqa: BLE001 - any store error (network, permissions, quota)
        _log.warning(
            "trial %d: not uploaded to the artifact store (its files stay in %s): %s",
            number,
            folder,
            first_line(exc),
        )


def upload_results(study: Any, number: int, folder: Path, store: Any) -> None:
    """Upload trial `number`'s `trial_results.json` (written once the trial is recorded) as the
    study's artifact `trial_N_trial_results.json`."""
    from optuna.artifacts import upload_artifact

    results = folder / TRIAL_RESULTS
    if results.is_file():
        with tempfile.TemporaryDirectory(prefix="lorasearch-upload-") as tmp:
            named = Path(tmp) / f"trial_{number}_{TRIAL_RESULTS}"
            named.write_bytes(results.read_bytes())
            upload_artifact(artifact_store=store, file_path=str(named), study_or_trial=study)


def artifacts_cache() -> Path:
    return Path(os.environ.get("LORASEARCH_CACHE_DIR") or Path.home() / ".cache" / "lorasearch") / "artifacts"


def fetch_adapter(study: Any, frozen: Any) -> Path | None:
    """Trial `frozen`'s adapter folder from the study's artifact store, in the local cache
    (downloaded once); None when the study has no store or the trial no adapter there."""
    import optuna
    from optuna.artifacts import download_artifact, get_all_artifact_meta

    url = study.user_attrs.get(ARTIFACTS_ATTR)
    if not url:
        return None
    metas = get_all_artifact_meta(optuna.trial.Trial(study, frozen._trial_id))
    found = {meta.filename: meta.artifact_id for meta in metas}  # the last upload of a name wins
    if ADAPTER_TAR not in found:
        return None
    # keyed by the upload's id too: a study name used again never gets an old study's adapter
    dest = artifacts_cache() / study.study_name / f"trial_{frozen.number}-{found[ADAPTER_TAR][:8]}"
    if (dest / "adapter" / "adapter_config.json").is_file():
        return dest / "adapter"
    store = open_artifacts(url)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lorasearch-fetch-", dir=dest) as tmp:
        tar = Path(tmp) / ADAPTER_TAR
        download_artifact(artifact_store=store, file_path=str(tar), artifact_id=found[ADAPTER_TAR])
        with tarfile.open(tar) as archive:
            archive.extractall(tmp, filter="data")  # no links or paths out of the folder
        os.replace(Path(tmp) / "adapter", dest / "adapter")  # whole, or not there at all
    return dest / "adapter"

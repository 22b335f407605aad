"""The study's storage: opened so that it rides out locks and dropped connections, and masked.

A search runs for hours; in that time someone opens the SQLite file in a `sqlite3` shell,
a backup copies it, optuna-dashboard reads it, or the database server restarts. Optuna gives
up on the first "database is locked" (after SQLite's 5 s busy timeout) and the trained trial
is lost. Here every storage call, reads and writes alike (tell, user attributes, heartbeats),
goes through `RetryingStorage`, which waits and retries with backoff for up to
`patience` seconds (default 5 minutes, `LORASEARCH_STORAGE_PATIENCE` to change it), and then
stops the run with one line. A full disk and a read-only database are not waited for: each is
said at once, in one line.
"""

from __future__ import annotations

import abc
import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DiskFull, RunFailure, UserError, is_disk_full

_log = logging.getLogger("lorasearch.search")

PATIENCE_ENV = "LORASEARCH_STORAGE_PATIENCE"
DEFAULT_PATIENCE_S = 300.0
SQLITE_BUSY_S = 30.0  # SQLite's own wait for a lock, per attempt
GRPC_READY_S = 10.0  # how long a gRPC storage proxy may take to answer when a storage opens


class StorageUnavailable(RunFailure):
    """The storage stayed locked or unreachable for longer than the patience."""


def mask_password(url: str) -> str:
    """The URL with its password replaced by `***`, wherever it is.

    SQLAlchemy's `make_url` takes the password up to the first `@`, so a password holding an
    `@` would be half shown; here the credentials end at the last `@` before the query, which
    is how libpq reads such a URL. A `password=` in the query string is masked too.
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        authority_end = len(rest.split("?", 1)[0])
        at = rest.rfind("@", 0, authority_end)
        if at >= 0:
            user, colon, _password = rest[:at].partition(":")
            if colon and "/" not in user:
                rest = f"{user}:***{rest[at:]}"
        url = f"{scheme}{sep}{rest}"
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.IGNORECASE)


def patience_s() -> float:
    """How long a storage call keeps retrying (`LORASEARCH_STORAGE_PATIENCE`, seconds)."""
    value = os.environ.get(PATIENCE_ENV)
    if value is None:
        return DEFAULT_PATIENCE_S
    try:
        seconds = float(value)
    except ValueError:
        raise UserError(f"{PATIENCE_ENV}: '{value}' is not a number of seconds") from None
    if not seconds >= 0:
        raise UserError(f"{PATIENCE_ENV}: must be 0 or more seconds, not {value}")
    return seconds


def sqlite_path(url: str) -> Path | None:
    """The database file of a `sqlite:///` URL, None for other storages."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def journal_path(url: str) -> Path | None:
    """The file of a `journal://` URL (`journal:///shared/s.log`: absolute; `journal://s.log`:
    relative to the current folder), None for other storages."""
    if not url.startswith("journal://"):
        return None
    return Path(url.removeprefix("journal://"))


def _require(module: str, what: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UserError(
            f"--storage: a {what} storage needs the {module} driver; pip install 'lorasearch-tui[{extra}]'"
        )


def open_storage(  # noqa: C901 - one branch per storage kind (sqlite, journal, RDB URL)
    url: str, read_only: bool = False, cancel: threading.Event | None = None, creating: bool = False
) -> Any:
    """An Optuna storage for `url` whose every call rides out locks and dropped connections.

    Args:
        read_only: open a SQLite file read-only (SQLite refuses every write) and never create
            tables, for `lorasearch watch`; the file must exist.
        cancel: when set (Ctrl+C), a call waiting for a busy storage gives up at once.
        creating: other processes may be making the same database's tables at this moment
            (`--join`): a server's refusal of a table that another one made first is retried.

    Raises:
        UserError: the URL cannot be opened (bad URL, missing driver, unreachable server).
    """
    import optuna

    patience = patience_s()
    label = mask_password(url)
    engine_kwargs: dict[str, Any] = {}
    path = sqlite_path(url)
    if path is not None:
        engine_kwargs["connect_args"] = {"timeout": min(SQLITE_BUSY_S, max(patience, 0.1))}
        if read_only:
            if not path.is_file():
                raise UserError(f"--storage: no database file {path}")
            url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    kwargs = {"skip_table_creation": True, "skip_compatibility_check": True} if read_only else {}
    journal = journal_path(url)
    if journal is not None:
        path = journal
        if read_only and not journal.is_file():
            raise UserError(f"--storage: no journal file {journal}")
        if not read_only:
            journal.parent.mkdir(parents=True, exist_ok=True)
    elif url.split(":", 1)[0] in ("postgresql", "postgres"):
        url = "postgresql+psycopg" + url[url.index(":") :]  # psycopg 3, the [postgres] extra
        _require("psycopg", "PostgreSQL", "postgres")
    elif url.split(":", 1)[0] == "mysql":
        url = "mysql+pymysql" + url[url.index(":") :]
        _require("pymysql", "MySQL", "mysql")
    proxy = grpc_address(url)
    if proxy is not None:
        _require("grpc", "gRPC proxy", "grpc")

    def connect() -> Any:
        if journal is not None:
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            return JournalStorage(JournalFileBackend(str(journal)))
        if proxy is not None:  # `lorasearch proxy` (or Optuna's own) in front of the database
            from optuna.storages import GrpcStorageProxy

            client = GrpcStorageProxy(host=proxy[0], port=proxy[1])
            client.wait_server_ready(timeout=GRPC_READY_S)  # none there: said at once
            return client
        return optuna.storages._CachedStorage(
            optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        )

    # A SQLite file may be locked at this moment (a backup, a sqlite3 shell): wait as for any
    # call. A database server that refuses or cannot be found at the start is a wrong URL or a
    # server not started: said at once, not after minutes of retrying.
    try:
        opening = functools.partial(_made_meanwhile, connect) if creating else connect
        inner = _retry(opening, label, path, patience, "open", cancel) if path is not None else opening()
    except (RunFailure, UserError):
        raise
    except Exception as exc:  # a bad URL, a missing driver, a refused connection, a foreign file
        if read_only and "no such table" in first_line(exc):
            raise UserError(f"--storage: {label} holds no Optuna studies ({first_line(exc)})") from None
        raise UserError(f"--storage: cannot open {label}: {first_line(exc)}") from None
    return _retrying_storage_class()(inner, label, path, patience, cancel)


def grpc_address(url: str) -> tuple[str, int] | None:
    """(host, port) of a `grpc://HOST:PORT` storage URL, else None.

    Raises:
        UserError: a grpc URL without a host or a port.
    """
    from urllib.parse import urlparse

    if not url.startswith("grpc:"):
        return None
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if not parsed.hostname or port is None:
        raise UserError(f"--storage: {mask_password(url)} is not grpc://HOST:PORT")
    return parsed.hostname, port


def _made_meanwhile(connect: Callable[[], Any], attempts: int = 5) -> Any:
    """`connect()` again when the database says a table (or its type, or the schema's version
    row) already exists: Optuna checks for its tables, then makes them, and a process that
    started at the same moment may have made them in between (seen on SQLite and PostgreSQL
    with 8 runners started at once)."""
    from sqlalchemy import exc as sa

    for attempt in range(attempts):
        try:
            return connect()
        except (sa.IntegrityError, sa.ProgrammingError, sa.OperationalError) as exc:
            text = str(exc.orig).lower()
            made = ("already exists", "duplicate key", "unique constraint failed")
            if attempt == attempts - 1 or not any(m in text for m in made):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    cause = exc.__cause__ or exc.__context__
    if cause is not None and (not text or text.startswith("An exception is raised during the commit")):
        text = str(cause).strip()
    return mask_password(text.splitlines()[0] if text else type(exc).__name__)


def _kind(exc: BaseException) -> str:
    """How to treat a storage error: retry, full, readonly, or raise."""
    import optuna
    from sqlalchemy import exc as sa

    if isinstance(exc, optuna.exceptions.StorageInternalError):
        exc = exc.__cause__ or exc
    if is_disk_full(exc):
        return "full"
    if isinstance(exc, OSError) and not isinstance(
        exc, FileNotFoundError | PermissionError | IsADirectoryError
    ):
        return "retry"  # a shared file system's hiccup (a journal file over NFS)
    if type(exc).__module__.startswith("grpc") and "UNAVAILABLE" in str(exc):
        return "retry"  # the gRPC proxy restarting, or its network dropped
    if isinstance(exc, sa.DBAPIError | sa.DisconnectionError | sa.TimeoutError):
        text = str(getattr(exc, "orig", exc)).lower()
        if "disk is full" in text or "no space left" in text:
            return "full"
        if "readonly database" in text or "read-only" in text or "read only" in text:
            return "readonly"
        if "no such table" in text or "no such column" in text or "does not exist" in text:
            return "raise"  # not an Optuna storage (or an older schema): waiting will not help
        if isinstance(exc, sa.OperationalError | sa.DisconnectionError | sa.TimeoutError):
            return "retry"  # a lock, a dropped connection, a server restarting
        if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
            return "retry"
    return "raise"


def _retry(
    call: Callable[[], Any],
    label: str,
    path: Path | None,
    patience: float,
    what: str,
    cancel: threading.Event | None = None,
) -> Any:
    """Run `call`, retrying with backoff while the storage is locked or unreachable."""
    deadline = time.monotonic() + patience
    delay, warned = 0.5, False
    while True:
        try:
            return call()
        except Exception as exc:
            kind = _kind(exc)
            if kind == "full":
                raise DiskFull(path or Path("."), f" (storage {label})") from None
            if kind == "readonly":
                raise UserError(
                    f"--storage: {label} is read-only ({first_line(exc)}); make it writable, or use "
                    f"lorasearch watch to look at it"
                ) from None
            if kind != "retry":
                raise
            if cancel is not None and cancel.is_set():
                raise StorageUnavailable(
                    f"storage {label}: {first_line(exc)}; gave up waiting (interrupted)"
                ) from None
            if time.monotonic() + delay > deadline:
                raise StorageUnavailable(
                    f"storage {label}: {first_line(exc)}, still after {patience:.0f} s of retrying "
                    f"({what}); whatever holds it (a sqlite3 shell, a backup, a database server) must "
                    f"let go, then run the search again with --resume"
                ) from None
            if not warned:
                _log.warning("storage busy (%s); retrying for up to %.0f s", first_line(exc), patience)
                warned = True
            if cancel is not None:
                cancel.wait(delay)
            else:
                time.sleep(delay)
            delay = min(delay * 2, 10.0)


@functools.cache
def _retrying_storage_class() -> type:
    """`RetryingStorage`, built on first use: importing Optuna at import time would cost every
    `import lorasearch_tui.store` (the CLI's too) 0.14 s."""
    import optuna
    from optuna.storages import BaseStorage
    from optuna.storages._heartbeat import BaseHeartbeat

    class RetryingStorage(BaseStorage, BaseHeartbeat):
        """Every public call of the wrapped storage, retried while the storage is busy."""

        def __init__(
            self, inner: Any, label: str, path: Path | None, patience: float, cancel: threading.Event | None
        ) -> None:
            self._inner = inner
            self.label = label
            self.path = path
            self.patience = patience
            self.cancel = cancel

        def __getattr__(self, name: str) -> Any:  # anything not a storage call: the inner one's
            return getattr(self.__dict__["_inner"], name)

        def get_heartbeat_interval(self) -> int | None:
            # None: no Optuna heartbeat (the leases of `_lease.py` do that job, on every storage;
            # a journal storage has no heartbeat at all).
            inner = self._inner
            return inner.get_heartbeat_interval() if isinstance(inner, BaseHeartbeat) else None

        def set_trial_state_values(self, trial_id: int, state: Any, values: Any = None) -> bool:
            attempts = 0

            def call() -> bool:
                nonlocal attempts
                attempts += 1
                try:
                    return self._inner.set_trial_state_values(trial_id, state=state, values=values)
                except optuna.exceptions.UpdateFinishedTrialError:
                    # An earlier attempt may have committed before its connection dropped.
                    if attempts > 1 and self._inner.get_trial(trial_id).state == state:
                        return True
                    raise

            return _retry(call, self.label, self.path, self.patience, "set_trial_state_values", self.cancel)

    names = {
        name
        for base in (BaseStorage, BaseHeartbeat)
        for name, member in vars(base).items()
        if callable(member) and (not name.startswith("__")) and name not in vars(RetryingStorage)
    }
    for name in names:
        setattr(RetryingStorage, name, _retrying(name))
    abc.update_abstractmethods(RetryingStorage)
    return RetryingStorage


def _retrying(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = getattr(self._inner, name)
        return _retry(lambda: call(*args, **kwargs), self.label, self.path, self.patience, name, self.cancel)

    method.__name__ = name
    return method

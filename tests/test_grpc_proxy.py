"""Many runners, one connection to the database: `lorasearch proxy` (Optuna's gRPC storage
proxy) in front of the tests' real PostgreSQL, and a real search through `--storage
grpc://HOST:PORT`. Real processes, real signals; a URL that names no proxy is one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from helpers.searching import LR_SPACE, config_file, lorasearch, search, wait_for, why_alive

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_search_through_the_proxy_lands_in_the_database(tmp_path, postgres_url):
    port = _free_port()
    log = tmp_path / "proxy.log"
    proxy = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", "proxy", "--port", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "LORASEARCH_STORAGE": postgres_url, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for(lambda: "serving" in log.read_text() or proxy.poll() is not None, what="the proxy to start")
        assert proxy.poll() is None, log.read_text()
        assert f"at grpc://127.0.0.1:{port}" in log.read_text() and "postgresql://" in log.read_text()
        config = config_file(tmp_path, LR_SPACE)
        url = f"grpc://127.0.0.1:{port}"
        done = search(tmp_path, "-c", str(config), "--study-name", "g", "--n-trials", "2", "--storage", url)
        assert done.returncode == 0, done.stdout + done.stderr
        study = optuna.load_study(study_name="g", storage=postgres_url)  # in the database itself
        assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
        listed = lorasearch(tmp_path, "studies", "--storage", url)
        assert listed.returncode == 0 and "g" in listed.stdout
    finally:
        proxy.send_signal(signal.SIGINT)
        code = _ended(proxy, 30)
    assert code == 130, log.read_text()


def _ended(proc: subprocess.Popen, timeout: float) -> int:
    """Its exit code once signalled, or a failure that says what it is doing (then killed)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        alive = why_alive(proc.pid)
        proc.kill()
        raise AssertionError(f"still running {timeout} s after the signal: {alive}") from None


def _proxy_ignoring(tmp_path, ignored: str) -> tuple[subprocess.Popen, Path]:
    """`lorasearch proxy` on a SQLite file, started with the signal `ignored` (INT, HUP) ignored
    from its start, as a shell's `trap "" SIG` or `nohup` leaves it; once it is listening."""
    log = tmp_path / "proxy.log"
    proxy = subprocess.Popen(
        ["/bin/bash", "-c", f'trap "" {ignored}; exec "$@"', "bash", sys.executable, "-m", "lorasearch_tui"]
        + ["proxy", "--port", str(_free_port()), "--storage", f"sqlite:///{tmp_path / 'p.db'}"],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for(lambda: "Listening" in log.read_text() or proxy.poll() is not None, what="the proxy")
    except AssertionError:
        proxy.kill()
        raise
    return proxy, log


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_proxy_stops_on_ctrl_c_or_sigterm_however_it_was_started(tmp_path, sig):
    """Started as a script's background job (SIGINT ignored from its start, as a shell without
    job control leaves it), the proxy still stops on Ctrl+C; a scheduler's SIGTERM stops it the
    same way. Mutations: Python's inherited SIGINT kept (the proxy never stops), SIGTERM left
    to its default (killed: exit -15, not 130)."""
    proxy, log = _proxy_ignoring(tmp_path, "INT")
    try:
        proxy.send_signal(sig)
        code = _ended(proxy, 30)
    finally:
        proxy.kill()
    assert code == 130, log.read_text()


def test_a_proxy_under_nohup_outlives_a_hang_up(tmp_path):
    """`nohup lorasearch proxy &` survives the logout that started it: a SIGHUP ignored from its
    start stays ignored (and Ctrl+C still stops it). Mutation: SIGHUP always handled (exit 130
    at the hang-up)."""
    proxy, log = _proxy_ignoring(tmp_path, "HUP")
    try:
        proxy.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):
            proxy.wait(timeout=3)  # still serving
        proxy.send_signal(signal.SIGINT)
        code = _ended(proxy, 30)
    finally:
        proxy.kill()
    assert code == 130, log.read_text()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("grpc://127.0.0.1:{port}", "cannot open grpc://127.0.0.1:"),
        ("grpc://127.0.0.1", "is not grpc://HOST:PORT"),
    ],
)
def test_a_grpc_url_without_a_proxy_is_one_line(tmp_path, url, said):
    config = config_file(tmp_path, LR_SPACE)
    began = time.monotonic()
    url = url.format(port=_free_port())
    done = search(tmp_path, "-c", str(config), "--study-name", "n", "--storage", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - began < 60  # the proxy's 10 s wait, not the storage's patience

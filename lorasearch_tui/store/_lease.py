"""Leases: who runs which trial, and how anyone tells that a runner is gone.

Several `lorasearch search` processes, on one host or several, may run one study through a
shared storage. Each running trial carries a lease in its user attributes (`lorasearch_lease`:
the runner's host, pid and process start, its worker, and when the lease was last renewed),
renewed every few seconds by the runner that owns it. Any runner that finds a RUNNING trial
whose lease has not been renewed for the grace period (3 minutes by default) records it FAIL
`runner lost (host H, pid P)` and queues its parameters to run again, as `--resume` does
after a `kill -9`. On the owner's own host a dead owner is known at once (its pid is gone, or
now belongs to a process started later), so a resume there does not wait for the grace period.
A live trial on any host is never touched, whatever its pid.

One mechanism for every storage: the journal file has no heartbeat of its own, and a lease in
the trial's attributes is what `lorasearch watch` and any Optuna tool can read. The renewal
times are this host's clock: hosts that share a study must agree on the time to within the
grace period (NTP does, to milliseconds).

Each runner also renews a study attribute of its own (`lorasearch_runner HOST PID`), which is
how `lorasearch watch` tells a study that runs from one that nobody runs any more.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from ..options import LOST_AFTER_S

LEASE_ATTR = "lorasearch_lease"
RUNNER_PREFIX = "lorasearch_runner "
DEFAULT_GRACE_S = LOST_AFTER_S  # a lease that does not say its own grace (`--lost-after`)
HOST_ENV = "LORASEARCH_HOST_NAME"  # the name a runner gives its host (default: the system's)


def renew_every_s(grace_s: float) -> float:
    """How often a lease is renewed: six times within the grace period, every 0.5 to 30 s."""
    return min(30.0, max(0.5, grace_s / 6))


def _pid_namespace() -> str:
    """This process's pid namespace: two containers may share a host name, never this."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclass(frozen=True)
class Runner:
    """A `lorasearch search` process: its host, pid, and when it started (to tell it from a
    later process that got the same pid); `pidns` tells containers that share a host name apart."""

    host: str
    pid: int
    since: float
    pidns: str = ""

    @classmethod
    def this_process(cls) -> Runner:
        host = os.environ.get(HOST_ENV) or socket.gethostname()
        return cls(host, os.getpid(), psutil.Process().create_time(), _pid_namespace())

    def same_machine(self, other: Runner) -> bool:
        """Whether `other`'s pid can be checked from here (same host, same pid namespace)."""
        return self.host == other.host and self.pidns == other.pidns

    @property
    def key(self) -> str:
        return f"{RUNNER_PREFIX}{self.host} {self.pid}"

    def is_gone(self) -> bool:
        """On its own host only: whether the process is gone (or its pid now someone else's)."""
        try:
            process = psutil.Process(self.pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
            return abs(process.create_time() - self.since) > 1.0
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False  # cannot tell (another user's process): not gone


class Leases:
    """This runner's leases on its trials, and the judge of everyone else's."""

    def __init__(self, study: Any, grace_s: float, clock: Callable[[], float] = time.time) -> None:
        self._study = study
        self.grace_s = grace_s
        self.every_s = renew_every_s(grace_s)
        self._clock = clock
        self.runner = Runner.this_process()
        self._next = 0.0

    def _lease(self, worker: str) -> dict[str, Any]:
        return {
            "host": self.runner.host,
            "pid": self.runner.pid,
            "since": self.runner.since,
            "pidns": self.runner.pidns,
            "worker": worker,
            "renewed": self._clock(),
            "grace": self.grace_s,
        }

    def take(self, trial: Any, worker: str) -> None:
        """The lease on a trial this runner starts."""
        trial.set_user_attr(LEASE_ATTR, self._lease(worker))

    def due(self) -> bool:
        """Whether it is time to renew (and to look for lost trials)."""
        return self._clock() >= self._next

    def renew(self, running: list[tuple[Any, str]]) -> None:
        """Renew the leases on `running` (trial, worker label) and this runner's own mark."""
        storage = self._study._storage
        for trial, worker in running:
            storage.set_trial_user_attr(trial._trial_id, LEASE_ATTR, self._lease(worker))
        self._study.set_user_attr(self.runner.key, self._lease(f"{len(running)} trials"))
        self._next = self._clock() + self.every_s

    def end(self) -> None:
        """This runner stops: its mark says so (watch then knows at once)."""
        self._study.set_user_attr(self.runner.key, {**self._lease(""), "ended": self._clock()})

    def lost(self, trial: Any) -> str | None:
        """Why a RUNNING trial that is not this runner's is lost, or None while its runner lives."""
        return lost_reason(trial, self.runner, self._clock())


def lost_reason(trial: Any, me: Runner, now: float) -> str | None:
    """Why a RUNNING trial (not one of `me`'s) is lost, or None while its runner lives."""
    lease = trial.user_attrs.get(LEASE_ATTR)
    if not isinstance(lease, dict):
        # Started by a lorasearch without leases, or its runner died in the moment between
        # creating the trial and taking the lease: lost once it is older than the grace period.
        started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return "runner lost (no lease)" if now - started > DEFAULT_GRACE_S else None
    owner = _owner(lease)
    why = f"runner lost (host {owner.host}, pid {owner.pid})"
    if me.same_machine(owner) and (owner.pid == me.pid or owner.is_gone()):
        return why  # this very process is not asked about its own trials: one of its pid is a leftover
    if now - float(lease.get("renewed", 0.0)) > float(lease.get("grace", DEFAULT_GRACE_S)):
        return why
    return None


def live_runners(study_attrs: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """The runners whose mark in the study is fresh and not ended, and, on this machine, whose
    process is still there (a `kill -9` ends no mark)."""
    me = Runner.this_process()
    runners = []
    for key, mark in study_attrs.items():
        if not key.startswith(RUNNER_PREFIX) or not isinstance(mark, dict) or "ended" in mark:
            continue
        if now - float(mark.get("renewed", 0.0)) > float(mark.get("grace", DEFAULT_GRACE_S)):
            continue
        owner = _owner(mark)
        if me.same_machine(owner) and owner.pid != me.pid and owner.is_gone():
            continue
        runners.append(mark)
    return runners


def _owner(lease: dict[str, Any]) -> Runner:
    return Runner(
        str(lease.get("host")),
        int(lease.get("pid", 0)),
        float(lease.get("since", 0.0)),
        str(lease.get("pidns", "")),
    )

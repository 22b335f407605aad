"""Many runners on one PostgreSQL study: what the database sees, measured, and what that means
at 256 and 1,024 runners.

N runner processes (`--runners 16 32` by default) join one study on a real PostgreSQL server
(pgserver, started here on a Unix socket, as the tests do) and finish `--trials-each` trials
each between them. Each runner is a real `SearchRunner` (leases, recovery, the sampler, the
pruner, result files) whose worker is the tests' stand-in (`tests/helpers/standin_worker.py`,
`slow`: about 2 s a trial, no training), so what is measured is lorasearch's and Optuna's own
traffic, not a model's. Read from PostgreSQL itself: transactions (`pg_stat_database`:
commits and rollbacks), rows read and written, the peak of open connections
(`pg_stat_activity`, sampled every 0.2 s); from the runners' logs: storage retries ("storage
busy"). Leases are renewed every `--lost-after`/6 s (30 s at the default 180 s).

Then the load at 256 and 1,024 runners for trials of `--trial-minutes` (a 12B QLoRA trial:
20 minutes): per-trial transactions times trials per second, plus each idle runner's lease
renewals, against what one PostgreSQL takes (its default `max_connections` is 100).

With `--proxy`, each count again through one `lorasearch proxy` (Optuna's gRPC storage proxy)
in front of the database: the runners give `--storage grpc://...`.

Use: python bench/cluster.py [--runners 16 32] [--trials-each 2] [--proxy]   (minutes on 2 cores;
32 Python processes start at once, so trials per minute here measure this machine's CPU, the
per-trial figures do not depend on it)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "helpers" / "standin_worker.py"

RUNNER = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from lorasearch_tui.config import parse_config
from lorasearch_tui.search import SearchOptions, SearchRunner
class Quiet:
    def emit(self, event):
        pass
url, name, n_trials, out, standin, lost_after = sys.argv[1:7]
config = parse_config({"max_steps": 4, "eval_steps": 2, "base_output_dir": out,
    "search_space": {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}}, "bench")
options = SearchOptions(name, n_trials=int(n_trials), mode="random", pruner="median", join=True,
    storage=url, hardware_interval=None, lost_after=float(lost_after),
    given=frozenset({"n_trials"}), worker_command=(sys.executable, standin, "slow"))
finished = SearchRunner(config, options, Quiet()).run()
print("finished", finished.reason, flush=True)
"""


def _stats(server, database: str) -> dict[str, int]:
    row = server.psql(
        "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched, "
        "tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
        f"WHERE datname = '{database}';"
    )
    numbers = [int(x) for x in row.split() if x.strip().isdigit()]
    return {"transactions": numbers[0], "rows_read": numbers[1], "rows_written": numbers[2]}


def _connections(server, database: str) -> int:
    row = server.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}';")
    return next(int(x) for x in row.split() if x.strip().isdigit())


def _proxy(url: str, root: Path) -> tuple[subprocess.Popen, str]:
    """`lorasearch proxy` in front of `url` on a free port; the runners' grpc:// URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = root / f"proxy{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", "proxy", "--port", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "LORASEARCH_STORAGE": url, "PYTHONUNBUFFERED": "1"},
    )
    while "serving" not in log.read_text():
        if proc.poll() is not None:
            raise SystemExit(f"the proxy did not start: {log.read_text()}")
        time.sleep(0.2)
    return proc, f"grpc://127.0.0.1:{port}"


def measure(
    server, runners: int, trials_each: int, lost_after: float, root: Path, proxy: bool = False
) -> dict[str, float]:
    database = f"c{runners}{'p' if proxy else ''}"
    server.psql(f"CREATE DATABASE {database};")
    url = server.get_uri(database)
    script = root / "runner.py"
    script.write_text(RUNNER)
    folder = root / database
    folder.mkdir()
    n_trials = runners * trials_each
    # the study's tables made once, as the first of many identical tasks would (not measured)
    import optuna

    optuna.create_study(study_name="warm", storage=url)
    time.sleep(1.0)  # let pg_stat_database's counters settle
    before = _stats(server, database)
    own = _connections(server, database)  # this process's: its Optuna engine, the sampling psql
    served = _proxy(url, root) if proxy else None
    runners_url = served[1] if served else url
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _connections(server, database))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.monotonic()
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = []
    for i in range(runners):
        log = (folder / f"runner{i}.log").open("w")
        command = [
            sys.executable,
            str(script),
            runners_url,
            "study",
            str(n_trials),
            str(folder / "out"),
            str(STANDIN),
            str(lost_after),
        ]
        procs.append(subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env))
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - began
    stop.set()
    sampler.join()
    if served:
        served[0].send_signal(2)  # SIGINT: the proxy stops as on Ctrl+C
        served[0].wait()
    time.sleep(1.0)
    after = _stats(server, database)
    study = optuna.load_study(study_name="study", storage=url)
    done = sum(t.state.is_finished() for t in study.trials)
    logs = "".join(p.read_text() for p in folder.glob("runner*.log"))
    transactions = after["transactions"] - before["transactions"]
    return {
        "runners": runners,
        "label": f"{runners}{' via proxy' if proxy else ''}",
        "failed_runners": sum(c != 0 for c in codes),
        "trials": done,
        "wall_s": wall,
        "trials_per_min": 60 * done / wall,
        "tx_per_trial": transactions / max(done, 1),
        "tx_per_s": transactions / wall,
        "rows_read_per_trial": (after["rows_read"] - before["rows_read"]) / max(done, 1),
        "rows_written_per_trial": (after["rows_written"] - before["rows_written"]) / max(done, 1),
        "peak_connections": peak[0] - own,
        "retries": logs.count("storage busy"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runners", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--trials-each", type=int, default=2)
    parser.add_argument("--lost-after", type=float, default=180.0)
    parser.add_argument("--trial-minutes", type=float, default=20.0, help="a real trial, for the projection")
    parser.add_argument(
        "--proxy", action="store_true", help="also each count through one `lorasearch proxy` (gRPC)"
    )
    args = parser.parse_args()
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="lorasearch-cluster-"))
    # the runners check the demo data and model as any search does: built once here, untaught
    # (no training happens: the stand-in trains nothing), before they start
    os.environ.setdefault("LORASEARCH_CACHE_DIR", str(root / "cache"))
    os.environ["LORASEARCH_DEMO_PRETRAIN_STEPS"] = "0"
    from lorasearch_tui.demo import ensure_demo_assets

    ensure_demo_assets()
    server = pgserver.get_server(root / "pg", cleanup_mode="stop")
    try:
        rows = [measure(server, n, args.trials_each, args.lost_after, root) for n in args.runners]
        proxied = (
            [measure(server, n, args.trials_each, args.lost_after, root, True) for n in args.runners]
            if args.proxy
            else []
        )
    finally:
        server.cleanup()
    print(
        f"{'runners':>16}{'trials':>8}{'wall s':>8}{'trials/min':>11}{'tx/trial':>10}{'tx/s':>8}"
        f"{'rows r/trial':>13}{'rows w/trial':>13}{'peak conns':>11}{'retries':>8}{'failed':>7}"
    )
    for r in rows + proxied:
        print(
            f"{r['label']:>16}{r['trials']:>8}{r['wall_s']:>8.1f}{r['trials_per_min']:>11.1f}"
            f"{r['tx_per_trial']:>10.1f}{r['tx_per_s']:>8.1f}{r['rows_read_per_trial']:>13.0f}"
            f"{r['rows_written_per_trial']:>13.0f}{r['peak_connections']:>11}{r['retries']:>8}"
            f"{r['failed_runners']:>7}"
        )
    # the projection: per trial as measured (the largest run: the most shared); each runner's
    # lease renewal every lost_after/6 s is 4 transactions (read from `_keep_leases`: the
    # trial's lease and the runner's mark written, the running trials and the counts read)
    last = rows[-1]
    renew_s = min(30.0, max(0.5, args.lost_after / 6))
    conns_each = last["peak_connections"] / last["runners"]
    print(f"\nprojection for trials of {args.trial_minutes:.0f} min, leases renewed every {renew_s:.0f} s:")
    for n in (256, 1024):
        trials_s = n / (args.trial_minutes * 60)
        tx_s = trials_s * last["tx_per_trial"] + 4 * n / renew_s
        print(f"  {n:>5} runners: {tx_s:6.1f} transactions/s, about {conns_each * n:.0f} connections")
    return 0 if all(r["failed_runners"] == 0 for r in rows + proxied) else 1


if __name__ == "__main__":
    sys.exit(main())

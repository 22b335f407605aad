"""The memory guard: a worker that kept too much memory after a trial (or ran its share of
trials) is replaced before the next one, says so, and the next trial trains exactly as it
would have in the old worker."""

from __future__ import annotations

import pytest
from helpers.searching import LR_SPACE, config_file, search, study_of, trial_results

from lorasearch_tui.search._memory_guard import GIB, MemoryGuard
from lorasearch_tui.worker._messages import Result


def _result(kind: str = "rss", retained: int | None = 0, capacity: int | None = 24 * GIB, changed=False):
    return Result(
        eval_loss=1.0,
        steps=4,
        max_steps=4,
        runtime_s=1.0,
        tokens_per_s=10.0,
        peak_memory_bytes=GIB,
        memory_kind=kind,
        retained_bytes=retained,
        capacity_bytes=capacity,
        base_changed=changed,
    )


def test_the_guard_replaces_a_worker_for_memory_count_or_a_changed_base():
    guard = MemoryGuard()
    assert guard.reason(_result(retained=int(0.9 * GIB)), 7) is None  # the CPU's limit: 1 GiB
    assert guard.reason(_result(retained=int(1.5 * GIB)), 1) == (
        "1.50 GiB stayed resident after the trial, more than 1.00 GiB"
    )
    # on a GPU: 5% of its memory (141 GiB: 7.05 GiB)
    gpu = 141 * GIB
    assert guard.reason(_result("gpu", int(1.9 * GIB), gpu), 3) is None
    assert "8.00 GiB stayed allocated on the GPU after the trial, more than 7.05 GiB" in guard.reason(
        _result("gpu", 8 * GIB, gpu), 3
    )
    assert MemoryGuard(above_bytes=GIB).reason(_result("gpu", int(1.9 * GIB), gpu), 3) is not None
    assert MemoryGuard(every=3).reason(_result(), 2) is None
    assert MemoryGuard(every=3).reason(_result(), 3) == "after 3 trials (--recycle-every 3)"
    assert guard.reason(_result(changed=True), 1) == "the base model changed during the trial"
    assert guard.reason(_result(retained=None), 1) is None  # an older worker that does not measure


@pytest.mark.slow
def test_a_recycled_worker_trains_the_next_trial_as_the_old_one_would(tmp_path):
    """The same seeded search twice: once with a guard so low that every trial leaves too much
    behind (a fresh worker per trial), once without. Same trials, same losses, bit for bit."""
    results = {}
    for name, flags in (("guarded", ["--recycle-above", "0.0001"]), ("plain", [])):
        folder = tmp_path / name
        folder.mkdir()
        config = config_file(folder, LR_SPACE, max_steps=4, eval_steps=2)
        proc = search(
            folder,
            "-c",
            str(config),
            "--study-name",
            "s",
            "--n-trials",
            "3",
            "--search-mode",
            "random",
            *flags,
        )
        assert proc.returncode == 0, proc.stderr
        results[name] = proc.stdout, study_of(folder, "s"), folder
    guarded, plain = results["guarded"][0], results["plain"][0]
    assert guarded.count("starting the trial worker") == 3 and plain.count("starting the trial worker") == 1
    assert guarded.count("worker recycled: ") == 2  # after trials 0 and 1; the search ends after 2
    assert (
        "GiB stayed resident after the trial, more than 0.00 GiB; a fresh one takes the next trial" in guarded
    )
    assert "worker recycled" not in plain
    a, b = results["guarded"][1].trials, results["plain"][1].trials
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.value for t in a] == [t.value for t in b]
    for number in range(3):
        ra = trial_results(results["guarded"][2], "s", number)
        rb = trial_results(results["plain"][2], "s", number)
        assert ra["eval"] == rb["eval"] and ra["train_loss"] == rb["train_loss"]
        assert ra["retained_bytes"] > 0 and rb["retained_bytes"] > 0  # measured in both

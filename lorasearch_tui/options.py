"""How to search: the flags of `lorasearch search`, typed once, from the command line to the engine.

The CLI builds one `SearchOptions` from its flags and takes its defaults (and the defaults its
help shows) from here; the engine reads the same object. Nothing is imported: the CLI reads this
before any heavy module loads.
"""

from __future__ import annotations

from dataclasses import dataclass

STALL_LIMIT_S = 300.0  # a training worker silent this long is stalled
LOST_AFTER_S = 180.0  # a running trial whose lease is this old is its runner's no more
MAX_FAILURES_IN_A_ROW = 3
SAVE_WAIT_S = 60.0  # a stopping search waits this long for its trials' checkpoints (--checkpoint-every)


@dataclass(frozen=True)
class SearchOptions:
    """How to search; each field is the flag of the same name. `given` names the settings the
    user set explicitly (a resumed study keeps its stored ones otherwise)."""

    study_name: str  # "" until the CLI names the study (`lorasearch_20261203_174201`)
    n_trials: int = 20
    mode: str = "bayesian"
    pruner: str = "median"
    timeout: float | None = None  # seconds after which no new trial starts
    resume: bool = False
    join: bool = False  # create the study, or continue it when another process already did
    max_trials_here: int | None = None  # this runner finishes at most this many trials, then exits
    enqueue: str | None = None  # a file of known parameter sets to run first (--enqueue)
    warm_start_from: str | None = None  # STUDY or STUDY@URL whose trials guide this one
    enqueue_top: int = 0  # run that study's best this many first (--enqueue-top)
    storage: str | None = None
    given: frozenset[str] = frozenset()
    trial_timeout: float | None = None  # with "trial_timeout" in `given`: replaces the config's
    stall_limit: float = STALL_LIMIT_S
    max_failures_in_a_row: int = MAX_FAILURES_IN_A_ROW
    gpus: str | None = None  # `all`, `none` or `0,1,3`; None: all GPUs, else the CPU
    workers: int | None = None  # workers on the CPU (None: 1)
    trials_per_gpu: int = 1
    lost_after: float = LOST_AFTER_S
    artifacts: str | None = None  # a shared artifact store's URL: file:///PATH or s3://BUCKET[/PREFIX]
    checkpoint_every: int = 0  # steps between a trial's checkpoints, which a lost trial's rerun resumes from
    recycle_every: int | None = None  # replace a worker after this many trials
    recycle_above: float | None = None  # GiB; or when more than this stayed held (None: 5% GPU / 1 GiB)
    hardware_interval: float | None = 1.0  # seconds between GPU samples; None: none (tests)
    worker_command: tuple[str, ...] | None = None  # None: the real worker; tests give a stand-in

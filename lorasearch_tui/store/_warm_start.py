"""Warm start: the trials of an earlier study added to a new one as measured
(`--warm-start-from STUDY[@STORAGE_URL]`), and its best parameter sets to run first
(`--enqueue-top K`).

Nobody searches from zero twice: a cheap study on a slice of the data, or last month's on a
smaller model, already shows where the good values are. Its COMPLETE and PRUNED trials are
added with their values, intermediate values and constraints (Optuna's `add_trial`), so the
sampler models them from the first proposal and the pruner compares against their curves.

They are never this study's own: each is marked `imported: "screen#4"` (shown wherever a
trial is), counts toward no target, is never its best or on its Pareto front (its value was
measured under another config, often on other data), and has no folder here (its adapter
stays the earlier study's, out of reach of anything that cleans this study's folders).

A trial fits when it has every parameter this space searches, each at a value this space can
draw, and each parameter it searched that this config fixes is at the fixed value; the others
are counted with their reason. An earlier study of another objective or direction is refused:
its values would teach the sampler the wrong thing. With several objectives, values are matched
by metric name.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..config import SearchConfig, draw_order, parse_config
from ..errors import UserError
from ._distributions import to_distributions
from ._study import (
    CONFIG_ATTR,
    ENQUEUED_ATTR,
    IMPORTED_ATTR,
    STUDY_NAME,
    is_imported,
    open_existing,
)

FLAG = "--warm-start-from"
# a source trial's attributes that describe how it trained, kept on the imported copy for the
# tables; its folder is not (see above), nor anything of its runner's
_KEPT = ("steps", "max_steps", "pruned_at", "early_stopped_at", "oom", "batch", "fail_reason", "duration_s")


@dataclass(frozen=True)
class WarmStart:
    """What an earlier study gives a new one."""

    source: str  # the earlier study's name
    trials: tuple[Any, ...]  # the fitting trials, as Optuna FrozenTrials marked imported
    skipped: dict[str, int] = field(default_factory=dict)  # why a trial does not fit -> how many
    top: tuple[dict[str, Any], ...] = ()  # the best fitting COMPLETE trials' parameters, best first

    def said(self, added: int) -> str:
        """One line for the search's start: what was imported and what was not."""
        line = f"{added} trial{'s' if added != 1 else ''} imported from {self.source}"
        if added < len(self.trials):
            line += f" ({len(self.trials) - added} imported before)"
        if self.skipped:
            why = "; ".join(
                f"{n} {reason}" for reason, n in sorted(self.skipped.items(), key=lambda kv: -kv[1])
            )
            line += f"; {sum(self.skipped.values())} did not fit: {why}"
        if self.top:
            line += f"; its best {len(self.top)} run first"
        return line + " (they guide the sampler and the pruner, and count toward no target)"


def parse_source(text: str, storage: str | None, study_name: str) -> tuple[str, str | None]:
    """The earlier study's name and storage URL. `STUDY` alone is in the storage this search
    uses (`--storage`), or in its own SQLite file by default (None).

    Raises:
        UserError: a name that is no study name, an empty URL, or this study itself.
    """
    name, at, url = text.partition("@")  # a study name holds no '@'; a URL's password may
    if not STUDY_NAME.fullmatch(name):
        raise UserError(f"{FLAG}: '{name[:40]}' is not a study name; give STUDY or STUDY@STORAGE_URL")
    if at and not url:
        raise UserError(f"{FLAG}: nothing after '@'; give STUDY or STUDY@STORAGE_URL")
    if name == study_name:
        raise UserError(f"{FLAG}: '{name}' is this study; name an earlier one")
    return name, url or storage


def read_warm_start(
    text: str, config: SearchConfig, storage: str | None, study_name: str, top: int = 0
) -> WarmStart:
    """Read the earlier study and pick the trials that fit this search (nothing is written).

    Args:
        text: `STUDY` or `STUDY@STORAGE_URL`.
        storage: this search's `--storage` (None: the default SQLite file).
        top: how many of its best fitting COMPLETE trials to run first (`--enqueue-top`).

    Raises:
        UserError: no such study, one lorasearch did not make, another objective or direction.
    """
    from optuna.study import StudyDirection
    from optuna.trial import TrialState, create_trial

    name, url = parse_source(text, storage, study_name)
    try:
        earlier = open_existing(name, url)
    except UserError as exc:
        raise UserError(f"{FLAG}: {exc}") from None
    stored = earlier.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        raise UserError(f"{FLAG}: study '{name}' was not made by lorasearch (it stores no config)")
    theirs = parse_config(stored, f"study '{name}'")
    order = _value_order(theirs, config, name)
    distributions = to_distributions(config.space)
    fixed = config.params.model_dump()
    # the curve a trial reports is its study's first objective's; a study of several is never pruned
    one_curve = len(config.params.goals) == 1 and order[0] == 0
    trials, skipped, ranked = [], Counter[str](), []
    for trial in earlier.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        why = _misfit(trial, config, fixed) or _meant_otherwise(trial, theirs, config)
        if why is not None:
            skipped[why] += 1
            continue
        params = {k: config.space[k].as_drawn(v) for k, v in trial.params.items() if k in config.space}
        values = [trial.values[i] for i in order] if trial.values else None
        if values is not None and not all(math.isfinite(v) for v in values):
            values = None
        complete = trial.state == TrialState.COMPLETE
        if complete and values is None:
            skipped["without a finite value"] += 1
            continue
        attrs = {k: trial.user_attrs[k] for k in _KEPT if trial.user_attrs.get(k) not in (None, "", False)}
        trials.append(
            create_trial(
                state=trial.state,
                values=values,
                params=params,
                distributions={k: distributions[k] for k in params},
                intermediate_values=dict(trial.intermediate_values) if one_curve else None,
                constraints=dict(trial.constraints) or None,  # out of memory: the sampler avoids it
                user_attrs={**attrs, IMPORTED_ATTR: f"{name}#{trial.number}", **_derived(config, params)},
            )
        )
        if complete and values is not None:
            ranked.append((values[0], trial.number, params))
    maximize = earlier.directions[order[0]] == StudyDirection.MAXIMIZE
    ranked.sort(key=lambda r: (-r[0] if maximize else r[0], r[1]))
    return WarmStart(
        source=name,
        trials=tuple(trials),
        skipped=dict(skipped),
        top=tuple(params for _, _, params in ranked[:top]),
    )


def add_imported(study: Any, warm: WarmStart) -> int:
    """Add the warm start's trials that the study does not hold yet (a resumed or repeated
    warm start adds none twice); returns how many were added."""
    held = {t.user_attrs.get(IMPORTED_ATTR) for t in study.get_trials(deepcopy=False) if is_imported(t)}
    new = [t for t in warm.trials if t.user_attrs[IMPORTED_ATTR] not in held]
    study.add_trials(new)
    return len(new)


def queue_known(study: Any, sets: list[dict[str, Any]]) -> int:
    """Queue known parameter sets to run before the sampler proposes anything, marked
    `enqueued`, never a set the study has run or queued already; returns how many were queued.

    Optuna's own `skip_if_exists` would also skip a set an imported trial holds, which is the
    one set a warm-started search must run here (`--enqueue-top`): imported trials are left out.
    """
    held = [
        t.system_attrs.get("fixed_params", t.params)
        for t in study.get_trials(deepcopy=False)
        if not is_imported(t)
    ]
    queued = 0
    for values in sets:
        if any(_same(values, other) for other in held):
            continue
        study.enqueue_trial(values, user_attrs={ENQUEUED_ATTR: True}, skip_if_exists=False)
        held.append(values)
        queued += 1
    return queued


def _value_order(theirs: SearchConfig, ours: SearchConfig, name: str) -> list[int]:
    """For each objective of this search, the index of the same metric among the earlier
    study's values.

    Raises:
        UserError: a metric it did not measure, or measured in the other direction.
    """
    their_goals = {g.metric: (i, g.goal) for i, g in enumerate(theirs.params.goals)}
    measured = ", ".join(f"{g.metric} ({g.goal})" for g in theirs.params.goals)
    order = []
    for goal in ours.params.goals:
        i, direction = their_goals.get(goal.metric, (None, None))
        if i is None or direction != goal.goal:
            raise UserError(
                f"{FLAG}: study '{name}' measured {measured}, this search {goal.metric} ({goal.goal}); "
                "its values cannot guide this one: warm-start from a study of the same objective"
            )
        order.append(i)
    return order


def _misfit(trial: Any, config: SearchConfig, fixed: dict[str, Any]) -> str | None:
    """Why an earlier trial does not fit this search, in a few words shared by all alike, or None."""
    if is_imported(trial):
        return "imported there from another study"
    for key in draw_order(config.space):
        dist = config.space[key]
        if not dist.applies(trial.params):  # searched here only under a condition it does not meet
            if key in trial.params:
                return f"with {key} where this space does not search it{dist.condition()}"
            continue
        if key not in trial.params:
            return f"without {key}"
        if dist.refuses(trial.params[key]) is not None:
            return f"with {key} outside {dist.describe()}"
    for key, value in trial.params.items():
        if key not in config.space and fixed.get(key) != value:
            return f"with {key} searched there, fixed at {fixed.get(key)} here"
    return None


def _derived(config: SearchConfig, params: dict[str, Any]) -> dict[str, Any]:
    """The `derived` attribute of a trial's outcome (shown instead of a drawn factor), if any."""
    derived = config.derived(params)
    return {"derived": derived} if derived else {}


def _meant_otherwise(trial: Any, theirs: SearchConfig, ours: SearchConfig) -> str | None:
    """Why a trial that fits this space trained with other values than its parameters mean
    here, or None: a `lora_alpha` drawn as a factor there and as a value here (or the other way
    round), or a factor of another fixed `lora_r`."""
    there, here = theirs.resolve(trial.params), ours.resolve(trial.params)
    for key in trial.params:
        if key in ours.space and there.get(key) != here.get(key):
            return f"with {key} meaning {there.get(key)} there, {here.get(key)} here"
    return None


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same parameter set (floats equal to Optuna's own tolerance of `skip_if_exists`)."""
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if isinstance(x, float) or isinstance(y, float):
            if isinstance(x, bool) or isinstance(y, bool) or not isinstance(y, int | float):
                return False
            if not math.isclose(float(x), float(y), rel_tol=1e-5, abs_tol=0.0):
                return False
        elif x != y or type(x) is not type(y):
            return False
    return True

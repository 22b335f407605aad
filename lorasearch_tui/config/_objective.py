"""What a search optimizes: the `objective` block of the config.

`eval_loss` is the trainer's loss on the val split (a proxy); `token_accuracy` is TRL's mean
token accuracy on the same split; `cer`, `wer` and `exact_match` are measured on what the
adapter writes: at every eval the worker generates (greedy, batched) the answers to the first
`eval_samples` val records, the same ones for every trial, and scores them against the
references after `normalize`. The value is reported at each eval, so pruning works on it.

`objectives` (several, a Pareto front) may add what a trial costs, measured once it ends:
`peak_memory_gb` (the GPU's peak allocation, or the worker's peak RSS on the CPU),
`train_seconds` (training alone, evals and generation apart) and `tokens_per_second`. The first
objective is the one each eval reports (the curves, the table's value), so it must be a
quality metric; the cost metrics cannot be judged at an eval, hence never the only objective.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Metric = Literal[
    "eval_loss",
    "cer",
    "wer",
    "exact_match",
    "token_accuracy",
    "peak_memory_gb",
    "train_seconds",
    "tokens_per_second",
]
Direction = Literal["minimize", "maximize"]
NATURAL: dict[str, str] = {
    "eval_loss": "minimize",
    "cer": "minimize",
    "wer": "minimize",
    "exact_match": "maximize",
    "token_accuracy": "maximize",
    "peak_memory_gb": "minimize",
    "train_seconds": "minimize",
    "tokens_per_second": "maximize",
}
GENERATED = ("cer", "wer", "exact_match")  # the metrics that need the adapter to write answers
AT_EVAL = ("eval_loss", "token_accuracy", *GENERATED)  # measured at every eval: the pruner's
COSTS = ("peak_memory_gb", "train_seconds", "tokens_per_second")  # measured once a trial ends


class Normalize(BaseModel):
    """How predictions and references are cleaned before they are compared."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    strip: bool = Field(True, description="Remove leading and trailing whitespace.")
    collapse_whitespace: bool = Field(True, description="Turn every run of whitespace into one space.")
    nfkc: bool = Field(True, description="Unicode NFKC: full-width forms and ligatures to their plain form.")
    lowercase: bool = Field(False, description="Compare in lower case.")
    remove_whitespace: bool = Field(False, description="Remove every whitespace character (OCR of CJK text).")
    remove_punctuation: bool = Field(
        False,
        description="Remove every Unicode punctuation character (categories P*: ASCII and CJK alike, "
        "not symbols such as $ or +).",
    )


# Named ways of comparing texts: `"normalize": "ocr_strict"` in the objective. `ocr_strict` is
# how OCR results are often published (the seed project's table): NFKC, then no whitespace and
# no punctuation on either side, so only the characters read count.
NORMALIZE_PRESETS: dict[str, dict[str, bool]] = {
    "default": {},
    "ocr_strict": {"nfkc": True, "remove_whitespace": True, "remove_punctuation": True},
}


class Objective(BaseModel):
    """The metric a search optimizes, and how generation-based metrics are measured."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    metric: Metric = Field(
        "eval_loss",
        description="What the search optimizes and the pruner judges: eval_loss, cer, wer, exact_match, "
        "token_accuracy; in objectives also peak_memory_gb, train_seconds, tokens_per_second.",
    )
    direction: Direction | None = Field(
        None, description="minimize or maximize; default: the metric's natural one."
    )
    eval_samples: int = Field(
        32,
        ge=1,
        description="Val records whose answers are generated and scored at every eval (the first N).",
    )
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        description="Longest generated answer; default: a quarter more than the longest reference.",
    )
    normalize: Normalize = Field(
        default_factory=Normalize,
        description="Cleaning before comparing texts: the keys below, or a preset's name: "
        + ", ".join(NORMALIZE_PRESETS)
        + ".",
    )

    @field_validator("normalize", mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        """A preset's name stands for its settings."""
        if isinstance(value, str):
            if value not in NORMALIZE_PRESETS:
                raise ValueError(f"unknown preset {value!r}; the presets are {', '.join(NORMALIZE_PRESETS)}")
            return NORMALIZE_PRESETS[value]
        return value

    @property
    def goal(self) -> str:
        """The direction, the metric's natural one unless given."""
        return self.direction or NATURAL[self.metric]

    @property
    def generates(self) -> bool:
        return self.metric in GENERATED


def check_objectives(
    objective: Objective, objectives: list[Objective] | None, objective_given: bool
) -> str | None:
    """What is wrong with the objective(s), as `path: what to do`, or None.

    The rules: the (first) objective is measured at every eval; at most one metric generates
    answers, and it comes first (its answers are what the evals score); no metric twice; a
    single `objective` and `objectives` do not both name the first one differently.
    """
    if not objectives:
        if objective.metric in COSTS:
            return (
                f"objective.metric: {objective.metric} is measured once a trial ends, so no eval can "
                f'judge it; use objectives: [a quality metric, {{"metric": "{objective.metric}"}}]'
            )
        return None
    first = objectives[0]
    if first.metric not in AT_EVAL:
        return (
            f"objectives[0].metric: the first objective is what every eval reports, and "
            f"{first.metric} is measured once a trial ends; put one of {', '.join(AT_EVAL)} first"
        )
    seen: set[str] = set()
    for i, item in enumerate(objectives):
        if item.metric in seen:
            return f"objectives[{i}].metric: {item.metric} is already an objective; name each metric once"
        seen.add(item.metric)
        if i and item.generates:
            return (
                f"objectives[{i}].metric: {item.metric} scores generated answers, which only the first "
                f"objective gets; put it first"
            )
    if objective_given and objective != first:
        return "objective: objectives[0] is the objective; drop objective, or make it the same"
    return None

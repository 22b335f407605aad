"""What a search optimizes: the `objective` block of the config.

`eval_loss` is the trainer's loss on the val split (a proxy); `token_accuracy` is TRL's mean
token accuracy on the same split; `cer`, `wer` and `exact_match` are measured on what the
adapter writes: at every eval the worker generates (greedy, batched) the answers to the first
`eval_samples` val records, the same ones for every trial, and scores them against the
references after `normalize`. The value is reported at each eval, so pruning works on it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Metric = Literal["eval_loss", "cer", "wer", "exact_match", "token_accuracy"]
Direction = Literal["minimize", "maximize"]
NATURAL: dict[str, str] = {
    "eval_loss": "minimize",
    "cer": "minimize",
    "wer": "minimize",
    "exact_match": "maximize",
    "token_accuracy": "maximize",
}
GENERATED = ("cer", "wer", "exact_match")  # the metrics that need the adapter to write answers


class Normalize(BaseModel):
    """How predictions and references are cleaned before they are compared."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    strip: bool = Field(True, description="Remove leading and trailing whitespace.")
    collapse_whitespace: bool = Field(True, description="Turn every run of whitespace into one space.")
    nfkc: bool = Field(True, description="Unicode NFKC: full-width forms and ligatures to their plain form.")
    lowercase: bool = Field(False, description="Compare in lower case.")


class Objective(BaseModel):
    """The metric a search optimizes, and how generation-based metrics are measured."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    metric: Metric = Field("eval_loss", description="What the search optimizes and the pruner judges.")
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
    normalize: Normalize = Field(default_factory=Normalize, description="Cleaning before comparing texts.")

    @property
    def goal(self) -> str:
        """The direction, the metric's natural one unless given."""
        return self.direction or NATURAL[self.metric]

    @property
    def generates(self) -> bool:
        return self.metric in GENERATED

"""The fixed parameters of one training run: every key of the config file but `search_space`.

Each field has a default and a one-line description; the description is what `lorasearch
schema` shows in an editor. Any field may instead be searched (named in `search_space`); then a
trial's value replaces the default. Field order is the order a user reads them in: what to
train on, the LoRA adapter, the schedule, the bookkeeping.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, field_validator, model_validator

from ..splits import parse_split
from ._objective import Objective

# Schedulers that need no extra arguments; a test checks each is a transformers SchedulerType.
SchedulerName = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
]
# Optimizers that need nothing beyond torch and bitsandbytes; a test checks each is a
# transformers OptimizerNames value.
OptimizerName = Literal[
    "adamw_8bit",
    "paged_adamw_8bit",
    "adamw_bnb_8bit",
    "paged_adamw_32bit",
    "adamw_torch",
    "adamw_torch_fused",
    "adafactor",
    "sgd",
    "adagrad",
    "rmsprop",
    "lion_8bit",
    "lion_32bit",
    "paged_lion_8bit",
    "paged_lion_32bit",
    "ademamix",
    "ademamix_8bit",
]

DEFAULT_INSTRUCTION = "請給我 OCR 結果"
SEED_MAX = 2**32 - 1  # numpy's seeds, which torch, transformers and Optuna's samplers use


class TrainParams(BaseModel):
    """Everything one training run needs, validated and frozen."""

    # NaN and infinity are never a setting: a bound of `Infinity` would pass here and crash
    # the first trial (pydantic accepts them in float fields unless told not to).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    model_name: str = Field(
        "demo:model",
        description="A local model folder, or a Hub id (owner/name) downloaded once into the Hugging Face "
        "cache; demo:model is the embedded tiny Gemma 3.",
        min_length=1,
    )
    model_revision: str = Field(
        "main",
        min_length=1,
        description="For a Hub model: the branch, tag or commit; a search stores the commit it resolved to.",
    )
    input_data: str = Field(
        "demo:ocr",
        description="Records: a JSON array, JSON Lines, CSV or Parquet file, an image folder with "
        "metadata.jsonl/metadata.csv (file_name + text), a save_to_disk folder, or a Hub dataset id "
        "(owner/name) downloaded once; demo:ocr is the embedded OCR set.",
        min_length=1,
    )
    data_config: str | None = Field(
        None, description="For a Hub dataset: its configuration (subset) name, when it has several."
    )
    data_revision: str = Field(
        "main",
        min_length=1,
        description="For a Hub dataset: the branch, tag or commit; a search stores the commit it "
        "resolved to.",
    )
    data_fields: dict[str, str] | None = Field(
        None,
        description='Your column names for lorasearch\'s keys: {"image": "img", "text": '
        '"transcription"} (image = image_path, text = ocr_text; or any record key: prompt, completion...).',
    )
    val_data: str | None = Field(
        None,
        description="A separate file (or image folder) to evaluate on; then the default splits take "
        "every record of each file (a split you set still applies to its own file).",
    )
    shuffle_before_split: bool = Field(
        False, description="Shuffle the records (with seed) before the splits slice them: for sorted files."
    )
    instruction: str = Field(
        DEFAULT_INSTRUCTION, description="Prompt text given with each image of OCR records."
    )
    train_split: str = Field(
        "train[:90%]",
        description="Records to train on: train[:90%], train[:400] or 0.9 (a data file is the split "
        "train; a Hub or save_to_disk dataset has its own split names).",
    )
    val_split: str = Field(
        "train[90%:]", description="Records to evaluate on: train[90%:], train[400:], validation or 0.1."
    )
    test_data: str | None = Field(
        None,
        description="A separate file (or image folder) of held-out records for lorasearch evaluate "
        "--split test; a search never reads it. Without test_split, all of its records.",
    )
    test_split: str | None = Field(
        None,
        description="Held-out records for lorasearch evaluate --split test, never read by a search: "
        "a split of test_data, else of input_data (test, train[90%:] or 0.1, disjoint from "
        "train_split and val_split).",
    )
    max_seq_length: int = Field(
        8192, ge=16, description="Longest sequence in tokens, image tokens included; longer ones are cut."
    )
    load_in_4bit: bool = Field(
        True, description="Quantize the base model to 4-bit NF4 with bitsandbytes (QLoRA)."
    )
    lora_r: int = Field(16, ge=1, description="Rank of the LoRA matrices.")
    lora_alpha: int = Field(16, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA path.")
    finetune_vision_layers: bool = Field(
        False, description="Put LoRA on the vision tower too, not only on the language model."
    )
    lora_target_modules: list[str] | Literal["all-linear"] | None = Field(
        None,
        description="Layers that get LoRA: none given, the language model's linear layers (the vision "
        "tower's too with finetune_vision_layers); all-linear (PEFT's: every linear layer but the output "
        "head); or names, matched at the end (q_proj, v_proj).",
    )
    lora_exclude_modules: list[str] | None = Field(
        None, description="Layers never to put LoRA on, by name (matched at the end), e.g. with all-linear."
    )
    use_rslora: bool = Field(
        False, description="Rank-stabilized LoRA: scale by alpha/sqrt(r) instead of alpha/r."
    )
    use_dora: bool = Field(False, description="DoRA (weight-decomposed LoRA): slower, sometimes better.")
    num_train_epochs: float = Field(3, gt=0, description="Passes over the training split.")
    max_steps: int = Field(-1, ge=-1, description="Stop after this many optimizer steps; -1 runs all epochs.")
    per_device_train_batch_size: int = Field(1, ge=1, description="Sequences per micro-batch.")
    gradient_accumulation_steps: int = Field(4, ge=1, description="Micro-batches per optimizer step.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate of the LoRA weights.")
    warmup_ratio: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of the steps spent warming the learning rate up."
    )
    weight_decay: float = Field(0.01, ge=0.0, description="Decoupled weight decay.")
    lr_scheduler_type: SchedulerName = Field("cosine", description="Learning-rate schedule.")
    optim: OptimizerName = Field("adamw_8bit", description="Optimizer name as transformers spells it.")
    batch_fit: Literal["auto", "fixed"] = Field(
        "auto",
        description="auto: on a GPU, the micro-batch that fills it at the same effective batch "
        "(per_device_train_batch_size x gradient_accumulation_steps); fixed: the numbers as given.",
    )
    gradient_checkpointing: bool = Field(
        True, description="Recompute activations in the backward pass: much less memory, ~30% slower."
    )
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = Field(
        "sdpa",
        description="Attention kernel: sdpa (PyTorch's), eager, or flash_attention_2 (when installed).",
    )
    packing: bool = Field(
        False, description="Pack several short text examples into one sequence (TRL); text data only."
    )
    use_liger_kernel: bool = Field(
        False,
        description="Liger's fused kernels (less memory, faster on a GPU); needs liger-kernel installed.",
    )
    early_stopping_patience: int | None = Field(
        None,
        ge=1,
        description="Stop a trial whose objective has not improved for N evals; it is COMPLETE with its "
        "best eval (the adapter of that eval is kept).",
    )
    chat_template: str | None = Field(
        None, description="A Jinja chat template replacing the model's: the text itself or a file path."
    )
    report_to: Literal["none", "wandb", "tensorboard", "mlflow"] = Field(
        "none",
        description="Log each trial to W&B, TensorBoard or MLflow (TRL's integration): one run per trial, "
        "named STUDY-trial-N; in W&B grouped by the study, with the trial's config as config.lorasearch. "
        "Fixed, never searched (a worker whose trials do not report to W&B spares TRL's import of it).",
    )
    eval_steps: int = Field(10, ge=1, description="Evaluate on the val split every N optimizer steps.")
    save_steps: int = Field(
        0, ge=0, description="Write a checkpoint every N steps in lorasearch train; 0 writes only the end."
    )
    logging_steps: int = Field(1, ge=1, description="Report the train loss every N steps.")
    base_output_dir: str = Field(
        "models/hyperparam_search", description="Folder under which runs and trials are written."
    )
    seed: int = Field(
        3407,
        ge=0,
        le=SEED_MAX,
        description="Seed of the data order, the LoRA init and the sampler (0 to 4294967295).",
    )
    trust_remote_code: bool = Field(
        False, description="Run Python code shipped with the model folder. Only for folders you trust."
    )
    objective: Objective = Field(
        default_factory=Objective,
        description="What the search optimizes: eval_loss (default), cer, wer, exact_match, token_accuracy.",
    )
    objectives: list[Objective] | None = Field(
        None,
        min_length=1,
        description="Several objectives for a Pareto front (the first one is reported at each eval); "
        "adds peak_memory_gb, train_seconds, tokens_per_second. Not pruned.",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _first_objective_is_the_objective(
        cls, data: Any, handler: ModelWrapValidatorHandler[TrainParams]
    ) -> TrainParams:
        # One place says what every eval reports: `objective`, which is objectives[0] when a
        # list is given (`parse_config` refuses the two naming different ones). Validated as
        # given first, so that an error in the list is named by its own path.
        params = handler(data)
        if isinstance(data, dict) and params.objectives and "objective" not in data:
            return handler({**data, "objective": data["objectives"][0]})
        return params

    @property
    def goals(self) -> list[Objective]:
        """Every objective, the first one reported at each eval."""
        return list(self.objectives) if self.objectives else [self.objective]

    @property
    def multi(self) -> bool:
        """Several objectives: a Pareto front, no pruning."""
        return len(self.goals) > 1

    @field_validator("train_split")
    @classmethod
    def _train_split_parses(cls, value: str) -> str:
        parse_split(value, "head")
        return value

    @field_validator("val_split", "test_split")
    @classmethod
    def _tail_split_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_split(value, "tail")
        return value


PARAM_NAMES: tuple[str, ...] = tuple(TrainParams.model_fields)

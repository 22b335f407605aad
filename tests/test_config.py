"""Every config rule, valid and invalid: the error names the JSON path and says what to do."""

from __future__ import annotations

import json
import typing

import pytest
from conftest import REPO, write_json
from pydantic import ValidationError

from lorasearch_tui.config import PARAM_NAMES, TrainParams, config_schema, load_config, parse_config
from lorasearch_tui.config._params import OptimizerName, SchedulerName
from lorasearch_tui.errors import UserError


def space(**entries):
    return {"search_space": entries}


VALID = [
    pytest.param({}, id="empty-is-all-defaults"),
    pytest.param(space(learning_rate={"type": "loguniform", "low": 1e-5, "high": 5e-4}), id="loguniform"),
    pytest.param(
        space(warmup_ratio={"type": "uniform", "low": 0.0, "high": 0.0}), id="uniform-low-equals-high"
    ),
    pytest.param(space(lora_r={"type": "int", "low": 4, "high": 32, "step": 4}), id="int-with-step"),
    pytest.param(space(num_train_epochs={"type": "int", "low": 2, "high": 5}), id="int-for-a-float-param"),
    pytest.param(space(lora_alpha={"type": "categorical", "choices": [8, 16, 32]}), id="categorical-int"),
    pytest.param(
        space(optim={"type": "categorical", "choices": ["adamw_8bit", "adamw_torch"]}), id="categorical-str"
    ),
    pytest.param(
        space(load_in_4bit={"type": "categorical", "choices": [True, False]}), id="categorical-bool"
    ),
    pytest.param({"learning_rate": 1e-4, "lora_r": 8, "optim": "adamw_torch"}, id="fixed-values"),
    pytest.param({"$schema": "./schema.json"}, id="editor-schema-key"),
    pytest.param({"train_split": "0.8", "val_split": "0.2"}, id="plain-fractions"),
    pytest.param({"train_split": "train[:400]", "val_split": "train[400:]"}, id="record-counts"),
]


@pytest.mark.parametrize("raw", VALID)
def test_valid_configs_load(raw):
    config = parse_config(raw, "c.json")
    assert set(config.space) == set(raw.get("search_space", {}))


KNOWN = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
    "lora_r": {"type": "int", "low": 4, "high": 32, "step": 4},
    "optim": {"type": "categorical", "choices": ["adamw_torch", "adamw_8bit"]},
}

INVALID = [
    ({"lerning_rate": 1e-4}, "c.json: lerning_rate: unknown key; did you mean 'learning_rate'?"),
    ({"search_spcae": {}}, "c.json: search_spcae: unknown key; did you mean 'search_space'?"),
    (
        space(lerning_rate={"type": "loguniform", "low": 1e-5, "high": 1e-4}),
        "c.json: search_space.lerning_rate: not a parameter; did you mean 'learning_rate'?",
    ),
    (
        space(learning_rate={"type": "loguniform", "low": -1, "high": 1}),
        "c.json: search_space.learning_rate.low: must be greater than 0 (got -1)",
    ),
    (
        space(learning_rate={"type": "loguniform", "low": 1e-3, "high": 1e-4}),
        "c.json: search_space.learning_rate: low (0.001) must be less than high (0.0001)",
    ),
    (
        space(learning_rate={"type": "loguniform", "low": 1e-3, "high": 1e-3}),
        "c.json: search_space.learning_rate: low (0.001) must be less than high (0.001)",
    ),
    (
        space(warmup_ratio={"type": "uniform", "low": 0.5, "high": 0.1}),
        "c.json: search_space.warmup_ratio: low (0.5) must not exceed high (0.1)",
    ),
    (
        space(lora_r={"type": "int", "low": 32, "high": 4}),
        "c.json: search_space.lora_r: low (32) must not exceed high (4)",
    ),
    (
        space(lora_r={"type": "int", "low": 4, "high": 32, "step": 0}),
        "c.json: search_space.lora_r.step: must be greater than or equal to 1 (got 0)",
    ),
    (
        space(lora_r={"type": "categorical", "choices": []}),
        "c.json: search_space.lora_r.choices: must have at least 1 item",
    ),
    (space(lora_r={"type": "categorical", "choices": [8, [16]]}), "c.json: search_space.lora_r.choices[1]"),
    (
        space(learning_rate={"type": "logunifrom", "low": 1e-5, "high": 1e-4}),
        "c.json: search_space.learning_rate.type: unknown type 'logunifrom'; "
        "use one of loguniform, uniform, int, categorical",
    ),
    (
        space(learning_rate={"low": 1e-5, "high": 1e-4}),
        "c.json: search_space.learning_rate: missing 'type'; "
        "use one of loguniform, uniform, int, categorical",
    ),
    (
        space(learning_rate={"type": "loguniform", "lowe": 1e-5, "high": 1e-4}),
        "c.json: search_space.learning_rate.low: missing; add this key",
    ),
    (
        space(learning_rate={"type": "loguniform", "low": 1e-5, "high": 1e-4, "hgih": 1}),
        "c.json: search_space.learning_rate.hgih: unknown key; did you mean 'high'?",
    ),
    (
        {"learning_rate": 1e-4, **space(learning_rate={"type": "loguniform", "low": 1e-5, "high": 1e-4})},
        "c.json: learning_rate: set both as a fixed value and in search_space; keep one of the two",
    ),
    (
        space(lora_r={"type": "loguniform", "low": 4, "high": 64}),
        "c.json: search_space.lora_r.low: lora_r takes whole numbers; use an 'int' or 'categorical' entry",
    ),
    (
        space(lora_r={"type": "categorical", "choices": [8, "sixteen"]}),
        "c.json: search_space.lora_r.choices[1]: must be a valid integer (got 'sixteen')",
    ),
    (
        space(warmup_ratio={"type": "uniform", "low": 0.0, "high": 1.5}),
        "c.json: search_space.warmup_ratio.high: must be less than 1 (got 1.5)",
    ),
    ({"lora_r": "16"}, "c.json: lora_r: must be a valid integer (got '16')"),
    ({"lora_r": 0}, "c.json: lora_r: must be greater than or equal to 1 (got 0)"),
    ({"load_in_4bit": "yes"}, "c.json: load_in_4bit: must be a valid boolean (got 'yes')"),
    ({"optim": "adamw_8bt"}, "did you mean 'adamw_8bit'?"),
    ({"lr_scheduler_type": "cosin"}, "did you mean 'cosine'?"),
    ({"train_split": "train[:90]%"}, "c.json: train_split: 'train[:90]%' is not a split"),
    (
        {"val_split": "train[50%:400]"},
        "c.json: val_split: 'train[50%:400]' mixes a percentage and a record count",
    ),
    ({"train_split": "1.5"}, "c.json: train_split: a plain fraction must be in (0, 1]"),
    ({"search_space": []}, "c.json: search_space: must be a valid dictionary"),
    ({"max_seq_length": 8}, "c.json: max_seq_length: must be greater than or equal to 16 (got 8)"),
    # enqueue: known sets, each checked against the space (issue 23)
    (
        {"search_space": KNOWN, "enqueue": [{"learning_rate": 1e-4}, {"lora_rank": 8}]},
        "c.json: enqueue[1].lora_rank: not searched here (searched: learning_rate, lora_r, optim)",
    ),
    (
        {"search_space": KNOWN, "enqueue": [{"learning_rate": 0.01}]},
        "c.json: enqueue[0].learning_rate: 0.01 is outside [1e-05, 0.001] of loguniform(1e-05, 0.001)",
    ),
    ({"search_space": KNOWN, "enqueue": [{"lora_r": 6}]}, "enqueue[0].lora_r: 6 is not on the steps of 4"),
    ({"search_space": KNOWN, "enqueue": [{"lora_r": 8.5}]}, "enqueue[0].lora_r: 8.5 is not a whole number"),
    ({"search_space": KNOWN, "enqueue": [{"optim": "sgd"}]}, "enqueue[0].optim: 'sgd' is not one of"),
    ({"search_space": KNOWN, "enqueue": [{"lora_r": "8"}]}, "enqueue[0].lora_r: '8' is text, not a number"),
    ({"search_space": KNOWN, "enqueue": [{"lora_r": "eight"}]}, "enqueue[0].lora_r: 'eight' is not a number"),
    (
        {"search_space": KNOWN, "enqueue": [{"learning_rate": "2e-4"}]},
        "enqueue[0].learning_rate: '2e-4' is text, not a number (in YAML, write 2.0e-4",
    ),
    ({"search_space": KNOWN, "enqueue": [{}]}, "enqueue[0]: a parameter set is an object"),
    ({"enqueue": [{"learning_rate": 1e-4}]}, "not searched here (searched: nothing"),
    ({"search_space": KNOWN, "enqueue": {"lora_r": 8}}, "c.json: enqueue: must be a valid list"),
]


def test_a_known_set_takes_the_type_a_trial_draws():
    config = parse_config({"search_space": KNOWN, "enqueue": [{"lora_r": 16.0, "optim": "adamw_8bit"}]}, "c")
    assert config.enqueue == ({"lora_r": 16, "optim": "adamw_8bit"},)
    assert type(config.enqueue[0]["lora_r"]) is int


@pytest.mark.parametrize(("raw", "expected"), INVALID, ids=[e for _, e in INVALID])
def test_invalid_configs_name_the_path(raw, expected):
    with pytest.raises(UserError) as caught:
        parse_config(raw, "c.json")
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_defaults_match_the_specification():
    p = TrainParams()
    assert (p.instruction, p.train_split, p.val_split, p.max_seq_length) == (
        "請給我 OCR 結果",
        "train[:90%]",
        "train[90%:]",
        8192,
    )
    assert (p.load_in_4bit, p.lora_r, p.lora_alpha, p.lora_dropout, p.finetune_vision_layers) == (
        True,
        16,
        16,
        0,
        False,
    )
    assert (p.num_train_epochs, p.per_device_train_batch_size, p.gradient_accumulation_steps) == (3, 1, 4)
    assert (p.learning_rate, p.warmup_ratio, p.lr_scheduler_type) == (2e-4, 0.1, "cosine")
    assert (p.base_output_dir, p.trust_remote_code) == ("models/hyperparam_search", False)


def test_every_parameter_has_a_one_line_description():
    for name, info in TrainParams.model_fields.items():
        assert info.description and "\n" not in info.description, name


def test_config_is_frozen_and_trial_values_are_validated():
    config = parse_config(space(lora_r={"type": "int", "low": 4, "high": 8}), "c.json")
    with pytest.raises(ValidationError, match="frozen"):
        config.params.lora_r = 3  # type: ignore[misc]
    assert config.with_values({"lora_r": 8}).lora_r == 8
    with pytest.raises(ValidationError, match="lora_r"):
        config.with_values({"lora_r": 0})


def test_grid_size_counts_int_and_categorical_combinations():
    config = parse_config(
        space(
            lora_r={"type": "int", "low": 4, "high": 16, "step": 4},
            lora_alpha={"type": "categorical", "choices": [8, 16]},
        ),
        "c.json",
    )
    assert config.grid_size() == 4 * 2
    continuous = parse_config(
        space(learning_rate={"type": "loguniform", "low": 1e-5, "high": 1e-4}), "c.json"
    )
    assert continuous.grid_size() is None


def test_file_errors(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "lora_r": 8,\n  "lora_alpha" 16\n}')
    with pytest.raises(UserError, match=r"broken.json: invalid JSON at line 3, column 16"):
        load_config(broken)
    (tmp_path / "empty.json").write_text("  \n")
    with pytest.raises(UserError, match="the file is empty"):
        load_config(tmp_path / "empty.json")
    with pytest.raises(UserError, match="top level must be a JSON object"):
        load_config(write_json(tmp_path / "list.json", [1, 2]))


NON_FINITE = [
    ('{"learning_rate": NaN}', "learning_rate: NaN"),
    ('{"lora_r": 8, "warmup_ratio": -Infinity}', "warmup_ratio: -Infinity"),
    (
        '{"search_space": {"learning_rate": {"type": "loguniform", "low": Infinity, "high": 1}}}',
        "search_space.learning_rate.low: Infinity",
    ),
    (
        '{"search_space": {"lora_r": {"type": "categorical", "choices": [8, NaN]}}}',
        "search_space.lora_r.choices[1]: NaN",
    ),
]


@pytest.mark.parametrize(("text", "expected"), NON_FINITE, ids=[e for _, e in NON_FINITE])
def test_a_non_finite_number_in_a_json_config_names_its_path(tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {expected} is not a JSON number; write a finite number"


def test_overrides_replace_file_values(tmp_path):
    path = write_json(tmp_path / "c.json", {"instruction": "read it"})
    config = load_config(path, overrides={"instruction": "OCR please", "model_name": None})
    assert config.params.instruction == "OCR please"
    assert config.params.model_name == "demo:model"


def test_schema_describes_every_parameter_and_the_space():
    schema = config_schema()
    props = schema["properties"]
    assert set(PARAM_NAMES) <= set(props)
    assert "search_space" in props and "$schema" in props
    text = json.dumps(schema, allow_nan=False)  # what an editor reads: strict JSON, nothing lost
    assert json.loads(text) == schema
    assert [name for name in PARAM_NAMES if not props[name].get("description")] == []


def test_the_listed_optimizers_and_schedulers_exist_in_transformers():
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    assert set(typing.get_args(OptimizerName)) <= {o.value for o in OptimizerNames}
    assert set(typing.get_args(SchedulerName)) <= {s.value for s in SchedulerType}


@pytest.mark.parametrize("path", sorted((REPO / "configs").rglob("*.json")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    load_config(path)


def test_a_yaml_config_and_set_overrides_give_the_config_the_json_gives(tmp_path):
    json_config = {
        "lora_r": 32,
        "instruction": "123",
        "objective": {"metric": "cer"},
        "search_space": {"learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-3}},
    }
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(
        "lora_r: 16\n"
        "instruction: hello\n"
        "search_space:\n"
        "  learning_rate: {type: loguniform, low: 1.0e-5, high: 5.0e-4}\n",
        encoding="utf-8",
    )
    sets = [
        "lora_r=32",
        "instruction=123",  # a text field keeps the text, not the number
        "objective.metric=cer",
        "search_space.learning_rate.high=1e-3",
    ]
    from_yaml = load_config(yaml_file, sets=sets)
    from_json = load_config(write_json(tmp_path / "c.json", json_config))
    assert from_yaml.to_dict() == from_json.to_dict()
    assert from_yaml.params.instruction == "123" and from_yaml.space["learning_rate"].high == 1e-3


def test_yaml_and_set_mistakes_are_one_line_with_their_place(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("lora_r: 16\nsearch_space:\n  learning_rate: [unclosed\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.yml: invalid YAML at line 4, column 1: "):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("lora_r: 16\n", encoding="utf-8")
    with pytest.raises(UserError, match="with --set: lora_r: must be greater than or equal to 1"):
        load_config(good, sets=["lora_r=0"])
    with pytest.raises(UserError, match="with --set: lora_rank: unknown key; did you mean 'lora_r'"):
        load_config(good, sets=["lora_rank=8"])
    with pytest.raises(UserError, match=r"--set: 'lora_r' is not KEY=VALUE"):
        load_config(good, sets=["lora_r"])
    with pytest.raises(UserError, match=r"with --set: learning_rate: must be a valid number"):
        load_config(good, sets=["learning_rate=fast"])
    infinite = tmp_path / "inf.yaml"
    infinite.write_text("learning_rate: .inf\n", encoding="utf-8")
    with pytest.raises(UserError, match="inf.yaml: learning_rate: "):
        load_config(infinite)


def test_the_readme_config_reference_is_the_schema_s():
    """The table in the README is `lorasearch schema --markdown`: a key added, renamed or
    redescribed in the schema fails here until the README is made again from it."""
    from lorasearch_tui.config._reference import END, START, reference_markdown

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = readme[readme.index(START) : readme.index(END) + len(END)]
    assert shown == reference_markdown(), "run: lorasearch schema --markdown, and paste it into README.md"

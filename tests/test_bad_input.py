"""Bad input gets one line and exit code 2, within seconds and a few hundred MB, and nothing is
written: broken config and data files, broken images, bad study names and folders, and
strings that would drive the terminal. Each case is a real `lorasearch` process."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from conftest import write_json
from helpers.searching import LR_SPACE, config_file, search
from PIL import Image

MAX_SECONDS = 20.0  # most take 1-2 s; the margin is for a loaded CI machine
MAX_RSS = 400 * 2**20


def run_measured(
    cwd: Path, *args: str, env: dict | None = None
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run `lorasearch ARGS` in `cwd`; return the process, its wall time and its peak RSS.

    The peak is the child's own VmHWM, read while it runs: `wait4`'s `ru_maxrss` would count
    the pytest process it was forked from.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lorasearch_tui", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "300", **(env or {})},
    )
    peak = 0
    while proc.poll() is None and time.monotonic() - started < 120:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, int(status.split("VmHWM:")[1].split()[0]) * 1024)
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.02)
    stdout, stderr = proc.communicate(timeout=120)
    seconds = time.monotonic() - started
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), seconds, peak


def one_line(cwd: Path, *args: str, env: dict | None = None) -> str:
    proc, seconds, rss = run_measured(cwd, *args, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert seconds < MAX_SECONDS and rss < MAX_RSS, (seconds, rss)
    assert "\x1b" not in proc.stderr
    return lines[0]


def nothing_written(cwd: Path) -> bool:
    return not (cwd / "optuna_studies").exists() and not (cwd / "models").exists()


# -- config files ------------------------------------------------------------------------------

CONFIG_CASES = {
    "binary": (bytes(range(256)) * 4, "not UTF-8 text (byte 0x80 at offset 128)"),
    "utf16": ('{"lora_r": 8}'.encode("utf-16"), "the file is UTF-16 text; save it as UTF-8"),
    "nul": (b'{"lora_r": 8}\x00', "holds NUL bytes"),
    "deep": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    "infinity": (
        b'{"search_space": {"learning_rate": {"type": "loguniform", "low": 1e-5, "high": Infinity}}}',
        "search_space.learning_rate.high: Infinity is not a JSON number",
    ),
    "nan-fixed": (b'{"lora_r": 8, "learning_rate": NaN}', "learning_rate: NaN is not a JSON number"),
    "seed-negative": (b'{"seed": -1}', "seed: must be greater than or equal to 0 (got -1)"),
    "seed-too-large": (b'{"seed": 4294967296}', "seed: must be less than or equal to 4294967295"),
    "huge-float": (b'{"learning_rate": 1e400}', "learning_rate: must be a finite number"),
}
# LoRA-shaped spaces (issue 23): a multiple of another parameter, a condition on another
R = {"type": "categorical", "choices": [4, 8]}
DORA = {"type": "categorical", "choices": [True, False]}
DROPOUT = {"type": "uniform", "low": 0.0, "high": 0.1}
SHAPE_CASES = {
    "multiple-of-unknown": (
        {"lora_r": R, "lora_alpha": {"type": "multiple_of", "of": "lora_rank", "choices": [1, 2]}},
        "search_space.lora_alpha.of: 'lora_rank' is not a parameter; did you mean 'lora_r'?",
    ),
    "multiple-of-itself": (
        {"lora_alpha": {"type": "multiple_of", "of": "lora_alpha", "choices": [1, 2]}},
        "search_space.lora_alpha.of: lora_alpha cannot depend on itself",
    ),
    "multiple-not-whole": (
        {"lora_r": R, "lora_alpha": {"type": "multiple_of", "of": "lora_r", "choices": [1, 0.3]}},
        "search_space.lora_alpha.choices[1]: 0.3 x lora_r 4 = 1.2: must be a valid integer",
    ),
    "multiple-of-range": (
        {
            "lora_r": {"type": "int", "low": 4, "high": 8},
            "lora_dropout": {**DROPOUT},
            "lora_alpha": {"type": "multiple_of", "of": "lora_dropout", "choices": [2]},
        },
        "search_space.lora_alpha.of: lora_dropout is a uniform range; a multiple needs it int",
    ),
    "multiple-of-text": (
        {"lora_alpha": {"type": "multiple_of", "of": "instruction", "choices": [2]}},
        "search_space.lora_alpha.of: instruction takes",
    ),
    "factor-zero": (
        {"lora_alpha": {"type": "multiple_of", "of": "lora_r", "choices": [0, 2]}},
        "search_space.lora_alpha: every factor must be a number > 0",
    ),
    "when-unknown": (
        {"use_dora": DORA, "lora_dropout": {**DROPOUT, "when": {"use_dor": False}}},
        "search_space.lora_dropout.when.use_dor: 'use_dor' is not a parameter; did you mean 'use_dora'?",
    ),
    "when-fixed": (
        {"lora_dropout": {**DROPOUT, "when": {"use_dora": False}}},
        "search_space.lora_dropout.when.use_dora: use_dora is not searched here",
    ),
    "when-never": (
        {"use_dora": DORA, "lora_dropout": {**DROPOUT, "when": {"use_dora": "no"}}},
        "search_space.lora_dropout.when.use_dora: never met: 'no' is not one of the choices [True, False]",
    ),
    "cycle": (
        {
            "lora_r": {**R, "when": {"lora_alpha": 2}},
            "lora_alpha": {"type": "multiple_of", "of": "lora_r", "choices": [1, 2]},
        },
        "search_space: lora_r -> lora_alpha -> lora_r depend on each other in a cycle",
    ),
}
SHAPE_CONFIGS = {
    "enqueue-unmet": (
        {
            "search_space": {"use_dora": DORA, "lora_dropout": {**DROPOUT, "when": {"use_dora": False}}},
            "enqueue": [{"use_dora": True, "lora_dropout": 0.05}],
        },
        "enqueue[0].lora_dropout: searched only when use_dora=False, which this set does not meet",
    ),
}
CONFIG_CASES |= {
    name: (json.dumps(raw).encode(), expected) for name, (raw, expected) in SHAPE_CONFIGS.items()
}
CONFIG_CASES |= {
    name: (json.dumps({"search_space": space}).encode(), expected)
    for name, (space, expected) in SHAPE_CASES.items()
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_a_broken_config_is_one_line(tmp_path, case):
    content, expected = CONFIG_CASES[case]
    path = tmp_path / "c.json"
    path.write_bytes(content)
    line = one_line(tmp_path, "validate", "-c", str(path))
    assert line.startswith(f"error: {path}: ") and expected in line, line


def test_a_config_key_with_terminal_codes_is_shown_escaped(tmp_path):
    path = write_json(tmp_path / "c.json", {"\x1b[31mlora_r\x1b]0;pwned\x07": 8})
    line = one_line(tmp_path, "validate", "-c", str(path))
    assert "\\x1b[31mlora_r\\x1b]0;pwned\\x07: unknown key" in line


def test_a_huge_int_range_validates_at_once_and_grid_mode_refuses_it(tmp_path, demo_data):
    space = {"num_train_epochs": {"type": "int", "low": 1, "high": 10**12}}
    path = write_json(tmp_path / "c.json", {"search_space": space})
    proc, seconds, rss = run_measured(tmp_path, "validate", "-c", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "Grid size: 1000000000000 combinations" in proc.stdout
    assert seconds < MAX_SECONDS and rss < MAX_RSS
    line = one_line(tmp_path, "search", "--no-tui", "-c", str(path), "--search-mode", "grid")
    assert "the grid has 1,000,000,000,000 combinations, more than grid mode lists" in line
    assert nothing_written(tmp_path)


# -- data files --------------------------------------------------------------------------------


def data_config(tmp_path: Path, data: Path) -> Path:
    return write_json(tmp_path / "c.json", {"input_data": str(data)})


DATA_CASES = {
    "binary": (bytes(range(256)) * 4, "not UTF-8 text"),
    "utf16": ('{"instruction": "q", "output": "a"}\n'.encode("utf-16"), "UTF-16 text"),
    "deep": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    "nan": (b'{"instruction": "q", "output": "a", "x": NaN}\n', "x: NaN is not a JSON number"),
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_a_broken_data_file_is_one_line(tmp_path, case):
    content, expected = DATA_CASES[case]
    data = tmp_path / "d.jsonl"
    data.write_bytes(content)
    line = one_line(tmp_path, "validate", "-c", str(data_config(tmp_path, data)))
    assert line.startswith(f"error: {data}: ") and expected in line, line


def test_an_unreadable_data_file_is_one_line(tmp_path):
    if os.geteuid() == 0:
        # root reads any file whatever its mode; /proc/self/mem is a regular file no one can
        # read from offset 0 (EIO), a real unreadable file for root too
        data = Path("/proc/self/mem")
    else:
        data = tmp_path / "d.jsonl"
        data.write_text('{"instruction": "q", "output": "a"}\n')
        data.chmod(0)
    line = one_line(tmp_path, "validate", "-c", str(data_config(tmp_path, data)))
    # /proc/self resolves to the reading process's own folder, so only the rest is compared
    assert line.startswith("error: /"), line
    assert line.split(": ", 2)[2].startswith("cannot read the data file ("), line


def test_json_lines_with_unicode_line_separators_in_strings_are_accepted(tmp_path):
    rows = [{"instruction": f"line\u2028sep {i}", "output": "next\u0085line\u2029end"} for i in range(20)]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert "\u2028" in data.read_text(encoding="utf-8")
    proc, _, _ = run_measured(tmp_path, "validate", "-c", str(data_config(tmp_path, data)))
    assert proc.returncode == 0, proc.stderr
    assert "20 records" in proc.stdout


def ocr_data(tmp_path: Path, image: str, n: int = 4) -> Path:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"image_path": image, "ocr_text": "x"}) + "\n" for _ in range(n)))
    return data


def test_a_truncated_png_is_reported_like_a_missing_one(tmp_path):
    Image.new("RGB", (64, 64), "white").save(tmp_path / "ok.png")
    Image.effect_noise((256, 256), 64).convert("RGB").save(tmp_path / "cut.png")
    content = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(content[: len(content) // 2])
    data = tmp_path / "d.jsonl"
    rows = [{"image_path": "ok.png", "ocr_text": "x"}] * 3 + [{"image_path": "cut.png", "ocr_text": "y"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    line = one_line(tmp_path, "validate", "-c", str(data_config(tmp_path, data)))
    assert "1 image file cannot be read, first: cut.png (record 3: " in line


def decompression_bomb(path: Path, side: int = 40_000) -> None:
    """A PNG that says it is side x side pixels (1.6 G) in a few dozen bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_png_is_refused_in_seconds(tmp_path):
    decompression_bomb(tmp_path / "bomb.png")
    line = one_line(tmp_path, "validate", "-c", str(data_config(tmp_path, ocr_data(tmp_path, "bomb.png"))))
    assert (
        "4 image files cannot be read, first: bomb.png (record 0: more pixels than Pillow's safety limit"
        in line
    )


# -- studies and folders ----------------------------------------------------------------------

SPACE = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}


BAD_NAMES = ["../x", "/abs/path", "a/b", "x" * 300, "q?mode=ro", ".hidden", "a b", "", "a\nb"]


def test_the_study_name_rule_itself():
    """The rule alone, in microseconds (the CLI test below runs a search when it breaks).

    Mutation it catches: a study-name pattern that lets '/' or a leading '.' through."""
    from lorasearch_tui.errors import UserError
    from lorasearch_tui.store import check_study_name

    for name in BAD_NAMES:
        with pytest.raises(UserError, match="is not a valid study name"):
            check_study_name(name)
    for name in ["demo", "a.b-c_d", "x" * 100, "0", "_x"]:
        assert check_study_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES[:7])
def test_a_study_name_that_is_no_file_name_is_refused(tmp_path, name):
    config = write_json(tmp_path / "c.json", {"search_space": SPACE})
    line = one_line(tmp_path, "search", "--no-tui", "-c", str(config), "--study-name", name)
    assert "is not a valid study name; use letters, digits, '-', '_' and '.' (not first)" in line
    assert nothing_written(tmp_path) and not (tmp_path.parent / "x.db").exists()


def test_a_base_output_dir_that_is_a_file_is_refused_before_the_study_exists(tmp_path):
    (tmp_path / "taken").write_text("a file")
    config = write_json(tmp_path / "c.json", {"base_output_dir": "taken/runs", "search_space": SPACE})
    line = one_line(tmp_path, "search", "--no-tui", "-c", str(config), "--study-name", "s")
    assert "base_output_dir: taken is a file, not a folder" in line
    assert not (tmp_path / "optuna_studies").exists()


def test_a_new_study_never_reuses_an_older_studys_trial_folder(tmp_path):
    old = tmp_path / "models/hyperparam_search/s/trial_0"
    old.mkdir(parents=True)
    (old / "trial_results.json").write_text("{}")
    config = write_json(tmp_path / "c.json", {"search_space": SPACE})
    line = one_line(tmp_path, "search", "--no-tui", "-c", str(config), "--study-name", "s")
    assert "already holds the trials of an earlier study named 's'; move or delete that folder" in line
    assert not (tmp_path / "optuna_studies").exists()


def test_a_malformed_fault_hook_is_refused(tmp_path):
    config = write_json(tmp_path / "c.json", {"search_space": SPACE})
    env = {"LORASEARCH_INJECT_FAULT": "oom@two:3"}
    line = one_line(tmp_path, "search", "--no-tui", "-c", str(config), "--study-name", "s", env=env)
    assert "LORASEARCH_INJECT_FAULT: 'oom@two:3' is not KIND@TRIAL:STEP" in line
    assert nothing_written(tmp_path)


def test_the_largest_seed_resumes():
    """2**32 - 1 is a valid seed; a resumed study adds its trial count to it (modulo 2**32)."""
    import optuna

    from lorasearch_tui.config import parse_config
    from lorasearch_tui.search._samplers import make_sampler
    from lorasearch_tui.store import to_distributions

    def first_draws(sampler) -> list[float]:
        study = optuna.create_study(sampler=sampler)
        return [study.ask(to_distributions(config.space)).params["learning_rate"] for _ in range(3)]

    config = parse_config({"seed": 2**32 - 1, "search_space": SPACE}, "test")
    for mode in ("bayesian", "random"):
        resumed = first_draws(make_sampler(mode, config.space, config.params.seed, 5))
        assert resumed == first_draws(make_sampler(mode, config.space, 4, 0))  # (2**32 - 1 + 5) % 2**32
        assert resumed != first_draws(make_sampler(mode, config.space, config.params.seed, 0))


def test_grid_refuses_a_float_range_by_name_and_writes_nothing(tmp_path):
    proc = search(tmp_path, "-c", str(config_file(tmp_path, LR_SPACE)), "--search-mode", "grid")
    assert proc.returncode == 2
    assert "search_space.learning_rate: grid mode needs int or categorical entries" in proc.stderr
    assert not (tmp_path / "optuna_studies").exists() and not (tmp_path / "models").exists()


def test_a_broken_yaml_config_or_a_wrong_set_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "c.yaml").write_text("lora_r: [16\n", encoding="utf-8")
    assert "c.yaml: invalid YAML at line 2, column 1" in one_line(tmp_path, "validate", "-c", "c.yaml")
    (tmp_path / "ok.yaml").write_text("max_steps: 2\n", encoding="utf-8")
    line = one_line(tmp_path, "search", "--no-tui", "-c", "ok.yaml", "--set", "lora_r=zero")
    assert "ok.yaml with --set: lora_r: " in line
    assert not (tmp_path / "optuna_studies").exists()

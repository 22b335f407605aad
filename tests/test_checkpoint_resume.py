"""A lost trial's rerun goes on from its last checkpoint (`--checkpoint-every`), not from step 0.

The slow test is what a user on spot GPUs or a Slurm time limit meets: the search process is
killed with SIGKILL mid-trial, `--resume` reruns the trial's parameters from its checkpoint,
and the result is the one an uninterrupted run gets. The fast ones pin which checkpoint is
taken: the newest complete one along the chain of reruns.
"""

from __future__ import annotations

import json
import re
import signal

import optuna
import pytest
from helpers.searching import config_file, search, start_search, steps_logged, study_of, wait_for

from lorasearch_tui.events import EvalLogged, StepLogged, decode_lines
from lorasearch_tui.search._resume import chain_folders, last_checkpoint, remove_checkpoints, resume_point
from lorasearch_tui.store import RESUMED_ATTR

ONE_RATE = {"learning_rate": {"type": "categorical", "choices": [0.05]}}


def _checkpoint(folder, step, complete=True):
    path = folder / "trainer" / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"):
        (path / name).write_bytes(b"saved")
    (folder / "trainer" / "README.md").write_text("TRL's model card")
    if complete:  # Transformers writes the trainer state last
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return path


def test_the_newest_complete_checkpoint_is_taken(tmp_path):
    """A checkpoint cut short by the kill (no trainer state, or half of one) is passed over."""
    assert last_checkpoint(tmp_path) is None
    four = _checkpoint(tmp_path, 4)
    _checkpoint(tmp_path, 8, complete=False)
    torn = _checkpoint(tmp_path, 12, complete=False)
    (torn / "trainer_state.json").write_text('{"global_st')
    assert last_checkpoint(tmp_path) == (4, four)
    remove_checkpoints(tmp_path)
    assert not (tmp_path / "trainer").exists()


def test_a_rerun_lost_early_resumes_from_the_one_before(tmp_path):
    """Trial 0 lost with a checkpoint at step 4; its rerun, trial 1, lost before saving one;
    trial 2 reruns trial 1 and goes on from trial 0's step 4. A trial with no checkpoint
    anywhere along its chain starts from step 0."""
    study = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}

    def lost(number, rerun_of=None):
        attrs = {"trial_dir": str(tmp_path / f"trial_{number}")}
        if rerun_of is not None:
            attrs["rerun_of"] = rerun_of
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.FAIL, params={"x": 0.5}, distributions=dist, user_attrs=attrs
            )
        )

    lost(0)
    lost(1, rerun_of=0)
    lost(2)
    four = _checkpoint(tmp_path / "trial_0", 4)
    point = resume_point(study, 1)
    assert (point.trial, point.step, point.checkpoint) == (0, 4, four)
    assert resume_point(study, 2) is None and resume_point(study, None) is None
    # once trial 1's rerun is recorded for good, the checkpoints of the whole chain go
    assert chain_folders(study, 1) == [tmp_path / "trial_1", tmp_path / "trial_0"]


@pytest.mark.slow
def test_a_search_killed_mid_trial_resumes_it_from_its_checkpoint(tmp_path):
    """SIGKILL at step 6 of 12 (the trial held there by an injected hang, so the kill lands
    after the step-4 checkpoint and before the step-8 one), then `--resume`: the rerun goes on
    from step 4 and ends where an uninterrupted run ends."""
    fixed = {"max_steps": 12, "eval_steps": 4}
    alone = tmp_path / "alone"
    alone.mkdir()
    config = config_file(alone, ONE_RATE, **fixed)
    done = search(alone, "-c", str(config), "--study-name", "k", "--n-trials", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    reference = study_of(alone, "k").trials[0]

    killed = tmp_path / "killed"
    killed.mkdir()
    config = config_file(killed, ONE_RATE, **fixed)
    args = ("-c", str(config), "--study-name", "k", "--checkpoint-every", "4")
    proc, log = start_search(killed, *args, "--n-trials", "1", env={"LORASEARCH_INJECT_FAULT": "hang@0:6"})
    trial_0 = killed / "models/hyperparam_search/k/trial_0"
    wait_for(
        lambda: steps_logged(killed, "k", 0) >= 5 or proc.poll() is not None,
        timeout=300,
        what="trial 0 to reach its hang at step 6",
    )
    assert proc.poll() is None, log.read_text()
    assert last_checkpoint(trial_0)[0] == 4
    proc.kill()
    proc.wait(timeout=30)

    resumed = search(killed, *args, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "runs the params of trial 0 again, from its checkpoint at step 4" in resumed.stdout
    study = study_of(killed, "k")
    lost, rerun = study.trials
    assert lost.user_attrs["fail_reason"].startswith("runner lost (host ") and lost.user_attrs["interrupted"]
    assert rerun.state == optuna.trial.TrialState.COMPLETE
    assert rerun.user_attrs["rerun_of"] == 0 and rerun.user_attrs[RESUMED_ATTR] == {"trial": 0, "step": 4}
    # the same to float precision: the adapter resumes in the dtype it trained in (bf16 under
    # TRL's QLoRA cast; PEFT's loader would make it float32: 4e-5 off here, 8e-4 on the demo)
    assert rerun.value == pytest.approx(reference.value, rel=1e-6)
    # the pruner saw each eval once: the copied one at step 4, then the rerun's own
    assert sorted(rerun.intermediate_values) == sorted(reference.intermediate_values) == [4, 8, 12]
    assert rerun.intermediate_values[4] == lost.intermediate_values[4]
    # its curve is whole, each step once: 1-4 copied from trial 0, 5-12 trained again
    events = decode_lines((killed / "models/hyperparam_search/k/trial_1/metrics.jsonl").read_bytes())
    assert [e.step for e in events if isinstance(e, StepLogged)] == list(range(1, 13))
    assert [e.step for e in events if isinstance(e, EvalLogged)] == [0, 4, 8, 12]
    # recorded for good: the checkpoints (trial 0's and the rerun's own) are gone, folder and all
    assert not (trial_0 / "trainer").exists() and not (trial_0.parent / "trial_1" / "trainer").exists()


@pytest.mark.slow
def test_usr1_checkpoints_the_running_trial_for_its_rerun(tmp_path):
    """Slurm's USR1 before the time limit, with `--checkpoint-every` far beyond the trial (so
    no checkpoint of its own yet): the stopping search has the trial write one at the end of
    its step and exits 130; the rerun goes on from that step, and its curve is whole."""
    config = config_file(tmp_path, ONE_RATE, max_steps=16, eval_steps=8)
    args = ("-c", str(config), "--study-name", "u", "--checkpoint-every", "100")
    proc, log = start_search(tmp_path, *args, "--n-trials", "1")
    wait_for(
        lambda: steps_logged(tmp_path, "u", 0) >= 3 or proc.poll() is not None,
        timeout=300,
        what="trial 0 to train",
    )
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait(timeout=120) == 130, log.read_text()
    reason = study_of(tmp_path, "u").trials[0].user_attrs["fail_reason"]
    found = re.fullmatch(r"interrupted \(checkpoint at step (\d+)\)", reason)
    assert found, reason
    step = int(found.group(1))
    assert 3 <= step < 16 and last_checkpoint(tmp_path / "models/hyperparam_search/u/trial_0")[0] == step

    resumed = search(tmp_path, *args, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"again, from its checkpoint at step {step}" in resumed.stdout
    rerun = study_of(tmp_path, "u").trials[1]
    assert rerun.state == optuna.trial.TrialState.COMPLETE
    assert rerun.user_attrs[RESUMED_ATTR] == {"trial": 0, "step": step}
    events = decode_lines((tmp_path / "models/hyperparam_search/u/trial_1/metrics.jsonl").read_bytes())
    assert [e.step for e in events if isinstance(e, StepLogged)] == list(range(1, 17))

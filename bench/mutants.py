"""Break one line of a rule that matters, run the tests that claim that rule, and say
whether they noticed: a test guards a promise only if it fails when the promise breaks.

    .venv/bin/python bench/mutants.py            # every mutant, then the table
    .venv/bin/python bench/mutants.py --list     # the mutants and the tests that claim each
    .venv/bin/python bench/mutants.py budget     # those whose name holds "budget"

Each mutant replaces one exact piece of one source line (it must occur exactly once, so a
refactor that moves the line makes this script say so rather than test nothing). The work
happens in a copy of the repository (git's tracked and untracked, not ignored, files) put first
on PYTHONPATH, so the checkout is never touched and the processes the tests start (workers,
runners, the CLI) import the mutated copy too. The claimed tests are first run unmutated: a
mutant only counts as caught when the same tests passed without it. A mutant that stops the
code from importing is not counted as caught (the table says `broken`): it proves nothing.

Exit code 0 when every mutant is caught, 1 when one survived or broke, 2 on a stale mutant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str  # the promise it breaks


T = "tests/"
MEDIAN = T + "test_engine_rules.py::test_the_median_pruner_waits_for_two_trials_and_never_judges_a_first_eval"
INTERRUPT = T + "test_search.py::test_interrupt_records_the_trial_writes_files_and_exits_130"
JOIN = T + "test_join.py::test_runners_started_at_once_make_one_study_and_each_takes_its_share"
WARM = T + "test_warm_start.py::test_imported_trials_guide_count_toward_nothing_and_are_never_best"
APART = T + "test_warm_start.py::test_a_better_imported_trial_is_never_best_and_its_set_runs_here_later"
SHAPES = T + "test_space_shapes.py::test_a_grid_over_a_shaped_space_is_the_product_of_the_choices"
REFUSED = T + "test_tui_engine.py::test_a_refused_search_draws_its_screen_then_ends_in_one_line_and_exit_2"
FOREIGN = T + "test_leases.py::test_a_trial_another_host_keeps_alive_is_left_alone_until_its_lease_runs_out"
MUTANTS = [
    # The failure budget
    Mutant(
        "budget-same-reason",
        "lorasearch_tui/search/_budget.py",
        "if self._streak and self._streak[-1][1] != reason:",
        "if False:",
        (T + "test_worker_protocol.py::test_different_failures_do_not_spend_the_budget",),
        "only failures with the same reason count in a row",
    ),
    Mutant(
        "budget-limit",
        "lorasearch_tui/search/_budget.py",
        "len(self._streak) >= self._limit",
        "len(self._streak) > self._limit",
        (T + "test_worker_protocol.py::test_a_worker_that_cannot_start_spends_the_failure_budget",),
        "--max-failures-in-a-row N stops at the N-th failure",
    ),
    Mutant(
        "budget-environment-only",
        "lorasearch_tui/search/_budget.py",
        "        if not ending.budget:",
        "        if False:",
        (T + "test_worker_protocol.py::test_a_diverged_or_timed_out_trial_never_spends_the_budget",),
        "a trial that diverged or timed out says something about its parameters: no budget",
    ),
    # Leases and recovery
    Mutant(
        "lease-host-name",
        "lorasearch_tui/store/_lease.py",
        "return self.host == other.host and self.pidns == other.pidns",
        "return self.pidns == other.pidns",
        (T + "test_leases.py::test_who_is_lost",),
        "another host's trial is judged by its lease, never by a pid check here",
    ),
    Mutant(
        "lease-dead-pid-here",
        "lorasearch_tui/store/_lease.py",
        "if me.same_machine(owner) and (owner.pid == me.pid or owner.is_gone()):",
        "if False:",
        (T + "test_leases.py::test_who_is_lost",),
        "on this machine a dead runner's trial is lost at once",
    ),
    Mutant(
        "lease-own-grace",
        "lorasearch_tui/store/_lease.py",
        'if now - float(lease.get("renewed", 0.0)) > float(lease.get("grace", DEFAULT_GRACE_S)):',
        'if now - float(lease.get("renewed", 0.0)) > DEFAULT_GRACE_S:',
        (T + "test_leases.py::test_who_is_lost", FOREIGN),
        "a lease runs out after its own grace period",
    ),
    Mutant(
        "lease-renewal",
        "lorasearch_tui/search/_runner.py",
        "self._leases.renew([(s.trial, s.placement.label) for s in busy])",
        "self._leases.renew([])",
        (T + "test_leases.py::test_runners_renew_their_leases_so_no_live_trial_is_taken_for_lost",),
        "a runner renews the leases of its running trials",
    ),
    Mutant(
        "recover-rerun",
        "lorasearch_tui/store/_recover.py",
        "queue_rerun(study, trial.number, trial.params)",
        "pass",
        (FOREIGN,),
        "a lost trial's parameters run again",
    ),
    # Passwords
    Mutant(
        "mask-search-started",
        "lorasearch_tui/search/_prepare.py",
        "storage=mask_password(self.storage),",
        "storage=self.storage,",
        (T + "test_storage.py::test_a_password_in_the_storage_url_is_shown_nowhere",),
        "a password in a storage URL is never shown (console, TUI header)",
    ),
    Mutant(
        "mask-query-password",
        "lorasearch_tui/store/_storage.py",
        'return re.sub(r"([?&]password=)[^&#]*", r"\\1***", url, flags=re.IGNORECASE)',
        "return url",
        (T + "test_storage.py::test_a_password_is_masked_however_it_is_written",),
        "a password= in a URL's query string is masked too",
    ),
    # Pruning
    Mutant(
        "prune-last-eval",
        "lorasearch_tui/search/_slot.py",
        "prune = not last and bool(trial.should_prune())",
        "prune = bool(trial.should_prune())",
        (T + "test_engine_rules.py::test_no_pruner_judges_a_trials_last_eval",),
        "no pruner judges a trial's last eval",
    ),
    Mutant(
        "prune-never-asked",
        "lorasearch_tui/search/_slot.py",
        "prune = not last and bool(trial.should_prune())",
        "prune = False",
        (MEDIAN,),
        "pruning really prunes",
    ),
    Mutant(
        "prune-median-warmup",
        "lorasearch_tui/config/_pruner.py",
        '"n_warmup_steps": eval_steps + 1,  # never the first eval',
        '"n_warmup_steps": 0,',
        (MEDIAN,),
        "the median pruner never judges a first eval",
    ),
    # Scoring
    Mutant(
        "cer-reference-length",
        "lorasearch_tui/training/_scoring.py",
        "return float(measure([r for _, r in pairs], [p for p, _ in pairs]))",
        "return float(measure([p for p, _ in pairs], [r for _, r in pairs]))",
        (T + "test_objective.py::test_cer_wer_and_exact_match_of_known_pairs",),
        "CER and WER are edits over the reference's length",
    ),
    Mutant(
        "exact-match",
        "lorasearch_tui/training/_scoring.py",
        "sum(p == r for p, r in zip(predictions, references, strict=True))",
        "sum(r.startswith(p) for p, r in zip(predictions, references, strict=True))",
        (T + "test_objective.py::test_cer_wer_and_exact_match_of_known_pairs",),
        "exact match means equal",
    ),
    Mutant(
        "normalize-nfkc",
        "lorasearch_tui/scores.py",
        '    if how.nfkc:\n        text = unicodedata.normalize("NFKC", text)',
        "    pass",
        (T + "test_objective.py::test_normalization_for_ocr_text",),
        "OCR text is compared after NFKC",
    ),
    Mutant(
        "normalize-punctuation",
        "lorasearch_tui/scores.py",
        'if not unicodedata.category(c).startswith("P")',
        'if c not in ".,!?"',
        (T + "test_objective.py::test_the_strict_ocr_preset_scores_only_the_characters_read",),
        "the strict OCR preset removes every Unicode punctuation character, CJK too",
    ),
    Mutant(
        "normalize-preset",
        "lorasearch_tui/config/_objective.py",
        "            return NORMALIZE_PRESETS[value]",
        "            return {}",
        (T + "test_objective.py::test_the_strict_ocr_preset_scores_only_the_characters_read",),
        "a preset's name stands for its settings",
    ),
    # The best trial and its files
    Mutant(
        "tie-is-no-best",
        "lorasearch_tui/events/_outcome.py",
        "    return same if len(same) > 1 else []",
        "    return []",
        (T + "test_ties.py::test_show_calls_equal_best_values_a_tie",),
        "exactly equal values are called a tie, never best",
    ),
    Mutant(
        "best-direction",
        "lorasearch_tui/store/_study.py",
        "pick = max if study.directions[0] == StudyDirection.MAXIMIZE else min",
        "pick = min",
        (T + "test_engine_rules.py::test_a_maximized_objectives_best_trial_is_its_highest",),
        "a maximized metric's best trial is its highest",
    ),
    Mutant(
        "best-config-params",
        "lorasearch_tui/store/_files.py",
        "write_json(config_file, config.with_values(dict(best.params)).model_dump())",
        "write_json(config_file, config.with_values(dict(study.trials[0].params)).model_dump())",
        (T + "test_results.py::test_the_best_files_hold_the_best_trial_and_its_parameters",),
        "the best config holds the best trial's parameters",
    ),
    # Memory guard and batch fit
    Mutant(
        "memory-guard-limit",
        "lorasearch_tui/search/_memory_guard.py",
        "if retained is not None and retained > self.limit(result):",
        "if retained is not None and retained > 2 * self.limit(result):",
        (T + "test_memory_guard.py",),
        "a worker that kept more than the limit is replaced",
    ),
    Mutant(
        "memory-guard-every",
        "lorasearch_tui/search/_memory_guard.py",
        "trials_on_worker >= self.every",
        "trials_on_worker > self.every",
        (T + "test_memory_guard.py",),
        "--recycle-every N replaces the worker after N trials",
    ),
    Mutant(
        "batch-fit-budget",
        "lorasearch_tui/training/_batch_fit.py",
        "if peak is not None and peak <= budget:",
        "if peak is not None:",
        (T + "test_batch_fit.py",),
        "the micro-batch chosen fits in the memory budget",
    ),
    Mutant(
        "batch-fit-probe-copies",
        "lorasearch_tui/training/_batch_fit.py",
        "[trainer.train_dataset[index] for _ in range(micro)]",
        "[trainer.train_dataset[index]] * micro",
        (T + "test_batch_fit.py::test_the_probe_trains_on_copies_of_the_longest_image_record",),
        "the fit's probe runs on a vision-language model (found on the first GPU run)",
    ),
    Mutant(
        "batch-fit-probe-before-train",
        "lorasearch_tui/training/_batch_fit.py",
        "    trainer.current_gradient_accumulation_steps = 1\n",
        "",
        (T + "test_batch_fit.py::test_the_probe_trains_on_copies_of_the_longest_image_record",),
        "the fit's probe can take a step before train() (found on the first GPU run)",
    ),
    # A lost trial resumed from its checkpoint (--checkpoint-every)
    Mutant(
        "resume-from-checkpoint",
        "lorasearch_tui/worker/_loop.py",
        "resume_from=Path(command.resume_from) if command.resume_from else None,",
        "resume_from=None,",
        (T + "test_checkpoint_resume.py::test_a_search_killed_mid_trial_resumes_it_from_its_checkpoint",),
        "a rerun goes on from the lost trial's checkpoint, not from step 0",
    ),
    Mutant(
        "resume-training-dtype",
        "lorasearch_tui/training/_run.py",
        "        _resume_in_training_dtype(trainer)\n",
        "        pass\n",
        (T + "test_checkpoint_resume.py::test_a_search_killed_mid_trial_resumes_it_from_its_checkpoint",),
        "a resumed adapter trains in the dtype it trained in before (bit-exact resume)",
    ),
    Mutant(
        "resume-curve-up-to-checkpoint",
        "lorasearch_tui/search/_resume.py",
        "if isinstance(e, (StepLogged, EvalLogged)) and e.step <= self.step",
        "if isinstance(e, (StepLogged, EvalLogged))",
        (T + "test_checkpoint_resume.py::test_a_search_killed_mid_trial_resumes_it_from_its_checkpoint",),
        "a resumed trial's curve has each step once (no eval judged twice)",
    ),
    Mutant(
        "resume-complete-checkpoint",
        "lorasearch_tui/search/_resume.py",
        'step = int(json.loads((path / _STATE).read_text())["global_step"])',
        'step = int(path.name.split("-")[1])',
        (T + "test_checkpoint_resume.py::test_the_newest_complete_checkpoint_is_taken",),
        "a checkpoint cut short by the kill is passed over",
    ),
    Mutant(
        "resume-chain",
        "lorasearch_tui/search/_resume.py",
        '        number = trials[number].user_attrs.get("rerun_of")\n',
        "        number = None\n",
        (T + "test_checkpoint_resume.py::test_a_rerun_lost_early_resumes_from_the_one_before",),
        "a rerun lost before its first checkpoint leaves the one it started from",
    ),
    Mutant(
        "save-on-stop",
        "lorasearch_tui/search/_runner.py",
        'if not (facts.get("interrupted") and self._options.checkpoint_every and training):',
        "if True:",
        (T + "test_checkpoint_resume.py::test_usr1_checkpoints_the_running_trial_for_its_rerun",),
        "a stopping search has its running trials checkpointed first",
    ),
    Mutant(
        "save-on-stop-worker",
        "lorasearch_tui/training/_observer.py",
        "control.should_save = control.should_save or save_asked()",
        "control.should_save = control.should_save",
        (T + "test_checkpoint_resume.py::test_usr1_checkpoints_the_running_trial_for_its_rerun",),
        "the worker writes the checkpoint it was asked for as it stops",
    ),
    Mutant(
        "checkpoints-removed",
        "lorasearch_tui/search/_runner.py",
        "                remove_checkpoints(folder)\n",
        "                pass\n",
        (T + "test_checkpoint_resume.py::test_a_search_killed_mid_trial_resumes_it_from_its_checkpoint",),
        "a recorded trial's checkpoints are removed (they are gigabytes on a 12B model)",
    ),
    # The shared artifact store (--artifacts)
    Mutant(
        "artifacts-upload",
        "lorasearch_tui/search/_runner.py",
        "lambda: upload_trial(trial, live.folder, self._artifacts)",
        "lambda: None",
        (T + "test_artifacts.py::test_a_trial_fetched_from_the_file_store_on_a_host_without_its_folder",),
        "a complete trial's adapter is uploaded to the study's artifact store",
    ),
    Mutant(
        "artifacts-fetch",
        "lorasearch_tui/results/_adapters.py",
        "        adapter = fetched_adapter(study, trial) or adapter\n",
        "        pass\n",
        (T + "test_artifacts.py::test_a_trial_fetched_from_the_file_store_on_a_host_without_its_folder",),
        "merge finds a trial's adapter in the artifact store on another host",
    ),
    Mutant(
        "artifacts-fetch-evaluate",
        "lorasearch_tui/evaluation/_candidates.py",
        "            folder = fetched.parent if fetched is not None else folder\n",
        "",
        (T + "test_artifacts.py::test_a_trial_fetched_from_the_file_store_on_a_host_without_its_folder",),
        "evaluate finds a trial's adapter in the artifact store on another host",
    ),
    Mutant(
        "artifacts-upload-never-fails-a-trial",
        "lorasearch_tui/store/_artifacts.py",
        "except Exception as exc:  # noqa: BLE001 - any store error (network, permissions, quota)",
        "except OSError as exc:  # noqa: BLE001 - any store error (network, permissions, quota)",
        (T + "test_artifacts.py::test_a_trial_fetched_from_s3_and_a_failed_upload_fails_no_trial",),
        "a failed upload is one line, never the trial's failure",
    ),
    Mutant(
        "artifacts-url-checked-first",
        "lorasearch_tui/search/_prepare.py",
        "    check_artifacts_url(options.artifacts)  # before anything is written\n",
        "",
        (T + "test_artifacts.py::test_a_url_that_names_no_store_is_one_line_and_writes_nothing",),
        "a URL that names no store is refused before anything is written",
    ),
    Mutant(
        "artifacts-same-store",
        "lorasearch_tui/search/_prepare.py",
        "    if url and stored and url != stored:",
        "    if False:",
        (T + "test_artifacts.py::test_a_trial_fetched_from_the_file_store_on_a_host_without_its_folder",),
        "a runner given another store than the study's is refused",
    ),
    Mutant(
        "artifacts-no-credentials",
        "lorasearch_tui/store/_artifacts.py",
        "    if parsed.username or parsed.password:  # kept in the study, shown by optuna-dashboard",
        "    if False:",
        (T + "test_artifacts.py::test_a_url_that_names_no_store_is_one_line_and_writes_nothing",),
        "a URL with credentials in it is refused (it would be stored and shown)",
    ),
    Mutant(
        "resume-chain-removed",
        "lorasearch_tui/search/_runner.py",
        "for folder in {live.folder, *chain_folders(study, live.rerun_of)}:",
        "for folder in {live.folder}:",
        (T + "test_checkpoint_resume.py::test_a_search_killed_mid_trial_resumes_it_from_its_checkpoint",),
        "a rerun recorded for good frees the checkpoints of the trials it reran",
    ),
    Mutant(
        "grpc-proxy-storage",
        "lorasearch_tui/store/_storage.py",
        "        if proxy is not None:  # `lorasearch proxy` (or Optuna's own) in front of the database",
        "        if False:",
        (T + "test_grpc_proxy.py::test_a_search_through_the_proxy_lands_in_the_database",),
        "--storage grpc://HOST:PORT reaches the database through the proxy",
    ),
    # Study names
    Mutant(
        "study-name-rule",
        "lorasearch_tui/store/_study.py",
        'STUDY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")',
        'STUDY_NAME = re.compile(r"[A-Za-z0-9_./-]{1,100}")',
        (T + "test_bad_input.py::test_the_study_name_rule_itself",),
        "a study name cannot escape its folders",
    ),
    # Is the winner real? (issue 21)
    Mutant(
        "test-overlap",
        "lorasearch_tui/data/_load.py",
        "        if shared:\n",
        "        if False:\n",
        (T + "test_test_split.py::test_a_test_split_that_shares_records_is_refused",),
        "a test split sharing records with train or val is refused",
    ),
    Mutant(
        "cer-corpus-level",
        "lorasearch_tui/scores.py",
        '"cer": c["char_edits"][idx].sum(-1) / c["ref_chars"][idx].sum(-1),',
        '"cer": (c["char_edits"] / c["ref_chars"])[idx].mean(-1),',
        (T + "test_evaluate.py::test_the_scores_are_jiwers_on_the_same_texts",),
        "CER is all edits over all reference characters (jiwer's corpus CER), not a mean of ratios",
    ),
    Mutant(
        "paired-draws",
        "lorasearch_tui/scores.py",
        "da, db = _metrics(ca, draws), _metrics(cb, draws)",
        "da, db = _metrics(ca, draws), _metrics(cb, _draws(len(common), seed + 1, ROUNDS))",
        (T + "test_evaluate.py::test_a_paired_interval_tells_a_clearly_worse_candidate_from_an_equal_one",),
        "a paired difference resamples both candidates with the same records",
    ),
    Mutant(
        "rerank-one-sided",
        "lorasearch_tui/evaluation/_rerank.py",
        'alternative="greater"',
        'alternative="two-sided"',
        (T + "test_evaluate.py::test_the_rerank_stops_only_the_significantly_worse_and_never_on_ties",),
        "the re-ranking stops only a candidate significantly worse than the leader",
    ),
    Mutant(
        "cut-line-kept",
        "lorasearch_tui/evaluation/_generations.py",
        "        except (ValueError, TypeError):\n            continue\n",
        "        except (ValueError, TypeError):\n            row = Generation(-1, '', '', '', '')\n",
        (T + "test_evaluate.py::test_a_cut_last_line_is_generated_again",),
        "a generation cut by a kill is generated again, never scored",
    ),
    Mutant(
        "strict-punctuation",
        "lorasearch_tui/scores.py",
        'if not unicodedata.category(c).startswith("P")',
        'if not unicodedata.category(c) in ("Po",)',
        (T + "test_evaluate.py::test_the_strict_preset_scores_cjk_ocr_as_published",),
        "every Unicode punctuation category is removed, CJK's included",
    ),
    Mutant(
        "doubt-counted-eval",
        "lorasearch_tui/results/_doubt.py",
        "return steps[min(sorted(steps, reverse=True), key=gap)]",
        "return steps[max(steps)]",
        (T + "test_evaluate.py::test_the_search_says_which_trials_its_evals_cannot_tell_from_the_best",),
        "the best trial's interval is of the eval its value came from",
    ),
    Mutant(
        "doubt-paired-zero",
        "lorasearch_tui/results/_doubt.py",
        'if diff is not None and diff["low"] <= 0 <= diff["high"]:',
        "if diff is not None:",
        (T + "test_evaluate.py::test_the_search_says_which_trials_its_evals_cannot_tell_from_the_best",),
        "only trials whose paired difference holds 0 are called indistinguishable",
    ),
    Mutant(
        "rerank-alpha",
        "lorasearch_tui/evaluation/_rerank.py",
        "return ALPHA / (2 * len(CHECKS) * max(1, adapters - 1))",
        "return ALPHA",
        (T + "test_evaluate.py::test_the_rerank_rarely_stops_an_equally_good_candidate",),
        "the re-ranking stops an equally good candidate in at most about 5% of runs",
    ),
    # --join and --max-trials-here (issue 22)
    Mutant(
        "join-duplicate-refused",
        "lorasearch_tui/store/_study.py",
        "            if not join:",
        "            if True:",
        (T + "test_join.py::test_a_joiner_waits_for_the_creator_to_store_its_config",),
        "runners started at once with --join: one creates the study, the others join it",
    ),
    Mutant(
        "join-waits-for-config",
        "lorasearch_tui/store/_study.py",
        "wait_s=JOIN_WAIT_S if join else 0.0",
        "wait_s=0.0",
        (T + "test_join.py::test_a_joiner_waits_for_the_creator_to_store_its_config",),
        "a joiner waits for the study's creator to store the config",
    ),
    Mutant(
        "join-table-race",
        "lorasearch_tui/store/_storage.py",
        "opening = functools.partial(_made_meanwhile, connect) if creating else connect",
        "opening = connect",
        (JOIN + "[sqlite]", JOIN + "[postgresql]"),
        "runners making a fresh database's tables at once all get the study",
    ),
    Mutant(
        "max-trials-here",
        "lorasearch_tui/search/_runner.py",
        "            self._finished_here += 1",
        "            pass",
        (JOIN,),
        "--max-trials-here K: a runner finishes at most K trials, then exits 0",
    ),
    Mutant(
        "usr1-interrupts",
        "lorasearch_tui/interrupts.py",
        "_stopping(signal.SIGINT, signal.SIGTERM, signal.SIGUSR1), handler",
        "_stopping(signal.SIGINT, signal.SIGTERM), handler",
        (INTERRUPT + "[sigusr1-slurm-time-limit]",),
        "a scheduler's USR1 records the running trial as interrupted, exit 130",
    ),
    Mutant(
        "interrupted-handed-over",
        "lorasearch_tui/search/_runner.py",
        "                    queue_rerun(study, slot.live.number, slot.live.params)",
        "                    pass",
        (T + "test_examples.py::test_four_array_tasks_at_once_finish_the_study_and_usr1_hands_a_trial_on",),
        "an interrupted runner's trial is taken over at once by the runners still at work",
    ),
    # Known sets first (issue 23)
    Mutant(
        "enqueue-twice",
        "lorasearch_tui/store/_warm_start.py",
        "if any(_same(values, other) for other in held):",
        "if False:",
        (T + "test_enqueue.py::test_known_sets_run_first_are_marked_and_never_run_twice",),
        "a known set the study already holds never runs again",
    ),
    Mutant(
        "enqueue-int-steps",
        "lorasearch_tui/config/_space.py",
        "if why is None and (int(value) - self.low) % self.step:",
        "if False:",
        (T + "test_config.py::test_invalid_configs_name_the_path",),
        "a known set's value must be one its search-space entry can draw",
    ),
    # Warm start (issue 23)
    Mutant(
        "imported-counted",
        "lorasearch_tui/store/_study.py",
        "            continue  # measured in an earlier study: it guides the sampler, it counts nowhere",
        "            pass",
        (WARM,),
        "imported trials never count toward --n-trials",
    ),
    Mutant(
        "imported-best",
        "lorasearch_tui/store/_study.py",
        "    complete = measured_here(study)",
        "    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == 'COMPLETE']",
        (APART,),
        "an imported trial is never the study's best",
    ),
    Mutant(
        "imported-tie",
        "lorasearch_tui/events/_outcome.py",
        "    outcomes = [o for o in outcomes if not o.imported]",
        "    outcomes = list(outcomes)",
        (WARM,),
        "an imported trial ties with no trial of the study",
    ),
    Mutant(
        "enqueue-top-skipped",
        "lorasearch_tui/store/_warm_start.py",
        "        if not is_imported(t)\n    ]",
        "    ]",
        (APART,),
        "--enqueue-top runs the earlier best here though an imported trial holds its parameters",
    ),
    Mutant(
        "imported-twice",
        "lorasearch_tui/store/_warm_start.py",
        "new = [t for t in warm.trials if t.user_attrs[IMPORTED_ATTR] not in held]",
        "new = list(warm.trials)",
        (WARM,),
        "a resumed warm start imports no trial twice",
    ),
    Mutant(
        "warm-direction",
        "lorasearch_tui/store/_warm_start.py",
        "if i is None or direction != goal.goal:",
        "if i is None:",
        (T + "test_warm_start.py::test_several_objectives_are_matched_by_name_and_another_is_refused",),
        "a study measured in the other direction is refused",
    ),
    Mutant(
        "warm-misfit",
        "lorasearch_tui/store/_warm_start.py",
        "        if dist.refuses(trial.params[key]) is not None:",
        "        if False:",
        (T + "test_warm_start.py::test_what_does_not_fit_is_counted_with_its_reason",),
        "a trial outside this search space is not imported",
    ),
    Mutant(
        "warm-join-loser",
        "lorasearch_tui/search/_prepare.py",
        "        warm.clear()  # a --join runner that lost the race to create the study imports nothing",
        "        pass",
        (T + "test_warm_start.py::test_a_joiner_that_lost_the_race_to_create_the_study_imports_nothing",),
        "with --join, only the runner that created the study imports the earlier one",
    ),
    Mutant(
        "warm-meaning",
        "lorasearch_tui/store/_warm_start.py",
        "why = _misfit(trial, config, fixed) or _meant_otherwise(trial, theirs, config)",
        "why = _misfit(trial, config, fixed)",
        (T + "test_warm_start.py::test_a_value_that_meant_something_else_there_is_not_imported",),
        "a value that meant something else in the earlier study is not imported",
    ),
    Mutant(
        "enqueue-unmet",
        "lorasearch_tui/config/_enqueue.py",
        "            if unmet:",
        "            if False:",
        (T + "test_bad_input.py::test_a_broken_config_is_one_line[enqueue-unmet]",),
        "a known set giving a value its condition does not search is refused, not dropped",
    ),
    # LoRA-shaped spaces (issue 23)
    Mutant(
        "multiple-resolve",
        "lorasearch_tui/config/_space.py",
        "product = value * values[self.of]",
        "product = value",
        (SHAPES,),
        "a multiple trains with the product, not the factor the study stores",
    ),
    Mutant(
        "when-applies",
        "lorasearch_tui/config/_space.py",
        "return all(_same_value(values.get(k), v) for k, v in (self.when or {}).items())",
        "return True",
        (SHAPES,),
        "a conditional entry is drawn only while its condition holds",
    ),
    Mutant(
        "shape-cycle",
        "lorasearch_tui/config/_shape.py",
        "    cycle = _cycle(space)",
        "    cycle = []",
        (T + "test_bad_input.py::test_a_broken_config_is_one_line[cycle]",),
        "entries that depend on each other in a cycle are one line, exit 2",
    ),
    Mutant(
        "shown-derived",
        "lorasearch_tui/events/_columns.py",
        "*(fmt_value(t.shown.get(n)) for n in names),",
        "*(fmt_value(t.params.get(n)) for n in names),",
        (SHAPES,),
        "the tables show what a trial trained with (the product), not the factor",
    ),
    # Pruners (issue 23)
    Mutant(
        "wilcoxon-own-best",
        "lorasearch_tui/search/_samplers.py",
        "            return super().prune(_OwnBest(study), trial)",
        "            return super().prune(study, trial)",
        (T + "test_pruners.py::test_wilcoxon_judges_against_the_best_trial_this_study_trained",),
        "the Wilcoxon pruner judges against this study's best, never an imported trial",
    ),
    Mutant(
        "wilcoxon-records",
        "lorasearch_tui/search/_slot.py",
        "if message.scores and reports_records(trial.study.pruner):",
        "if False:",
        (T + "test_pruners.py::test_wilcoxon_stops_a_trial_worse_record_by_record_not_one_worse_by_noise",),
        "the Wilcoxon pruner judges each record's score, not the eval's one value",
    ),
    Mutant(
        "pruner-threshold",
        "lorasearch_tui/config/_pruner.py",
        'return "ThresholdPruner", {"lower": self.lower, "upper": self.upper}',
        'return "ThresholdPruner", {"lower": self.lower, "upper": None}',
        (T + "test_pruners.py::test_threshold_stops_a_trial_above_its_bound_at_its_first_eval",),
        "threshold stops a trial past its bound",
    ),
    Mutant(
        "pruner-percentile",
        "lorasearch_tui/config/_pruner.py",
        '"percentile": self.percentile,',
        '"percentile": 50.0,',
        (T + "test_pruners.py::test_percentile_keeps_only_the_best_quarter_where_the_median_keeps_half",),
        "percentile judges by the percentile the config gives",
    ),
    Mutant(
        "pruner-patience",
        "lorasearch_tui/config/_pruner.py",
        '"patience": self.patience,',
        '"patience": self.patience + 1,',
        (T + "test_pruners.py::test_patient_stops_a_trial_that_got_worse_for_its_patience",),
        "patient stops a trial after the patience the config gives",
    ),
    Mutant(
        "pruner-flag-wins",
        "lorasearch_tui/config/_pruner.py",
        'if block is not None and getattr(block, "type", None) == name:',
        "if block is not None:",
        (T + "test_pruners.py::test_the_flag_picks_a_pruner_with_its_defaults",),
        "--pruner NAME runs NAME, whatever pruner the config's block names",
    ),
    Mutant(
        "eval-answers-by-record",
        "lorasearch_tui/training/_scoring.py",
        "written.update(zip(group, generate(",
        "written.update(zip(range(start, start + len(group)), generate(",
        (T + "test_objective.py::test_an_eval_in_length_order_scores_each_answer_against_its_record",),
        "an eval generated in length order scores each answer against its own record",
    ),
    Mutant(
        "demo-base-describes",
        "lorasearch_tui/demo/_pretrain.py",
        "answer = DESCRIPTION if demo_instruction else text",
        "answer = text",
        (T + "test_demo_reads.py::test_a_cer_search_on_the_taught_demo_finds_a_fine_tune_that_reads",),
        "the demo's base model answers the demo's question with a description, so a search has a job",
    ),
    Mutant(
        "demo-build-lock",
        "lorasearch_tui/demo/__init__.py",
        "fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)",
        "pass",
        (T + "test_demo_reads.py::test_two_processes_building_the_demo_at_once_build_it_once",),
        "processes that start together build the demo once; the others wait for it",
    ),
    Mutant(
        "tui-progress-at-tick",
        "lorasearch_tui/tui/search_screen.py",
        "        if self._progress_pending and due:\n            self.redraw()\n",
        "",
        (T + "test_tui.py::test_a_running_trials_steps_and_samples_are_drawn_at_the_next_tick",),
        "a running trial's steps reach the screen (drawn at the app's 2-s tick, not per step)",
    ),
    Mutant(
        "tui-row-in-place",
        "lorasearch_tui/tui/widgets/trial_table.py",
        "                cache.discard(cached)\n",
        "                pass\n",
        (T + "test_tui.py::test_a_running_trials_steps_and_samples_are_drawn_at_the_next_tick",),
        "a running row's cell changed in place is drawn anew (its cached render dropped), not left stale",
    ),
    Mutant(
        "tui-hardware-at-tick",
        "lorasearch_tui/tui/search_screen.py",
        "                pane.show(self.state)\n",
        "                pass\n",
        (T + "test_tui.py::test_a_running_trials_steps_and_samples_are_drawn_at_the_next_tick",),
        "a hardware sample reaches the GPU pane (drawn at the app's 2-s tick)",
    ),
    Mutant(
        "tui-tree-relabelled",
        "lorasearch_tui/tui/widgets/config_tree.py",
        "                self._leaves[name].set_label(label)\n",
        "",
        (T + "test_tui.py::test_a_running_trials_steps_and_samples_are_drawn_at_the_next_tick",),
        "the config tree shows the running trial's values (relabelled, not rebuilt)",
    ),
    Mutant(
        "worker-wandb-hidden",
        "lorasearch_tui/worker/_loop.py",
        '        sys.modules["wandb"] = None  # type: ignore[assignment]\n',
        "        pass\n",
        (T + "test_worker.py::test_a_worker_hides_wandb_unless_its_trials_report_to_it",),
        "a worker that does not report to W&B does not import it (TRL would: 0.6 s a start)",
    ),
    Mutant(
        "worker-wandb-kept-for-wandb",
        "lorasearch_tui/worker/_loop.py",
        'if params.report_to != "wandb" and "trl" not in sys.modules',
        'if "trl" not in sys.modules',
        (T + "test_worker.py::test_a_worker_hides_wandb_unless_its_trials_report_to_it",),
        "a worker whose trials report to W&B keeps it",
    ),
    Mutant(
        "report-to-not-searched",
        "lorasearch_tui/config/_load.py",
        '    "report_to": "where trials are logged is not',
        '    "not_a_param": "where trials are logged is not',
        (T + "test_objective.py::test_the_objective_block_is_checked_with_its_path",),
        "report_to cannot be searched: a worker's trials agree on it (it hides wandb otherwise)",
    ),
    Mutant(
        "proxy-sigint-own-handler",
        "lorasearch_tui/store/_proxy.py",
        "previous = signal.signal(signal.SIGINT, signal.default_int_handler)",
        "previous = signal.getsignal(signal.SIGINT)",
        (T + "test_grpc_proxy.py::test_a_proxy_stops_on_ctrl_c_or_sigterm_however_it_was_started",),
        "a proxy stops on Ctrl+C however it was started (a background job inherits SIGINT ignored)",
    ),
    Mutant(
        "proxy-sigterm-stops",
        "lorasearch_tui/store/_proxy.py",
        "        with terminate_as_interrupt():\n",
        '        with memoryview(b""):  # a context that does nothing\n',
        (T + "test_grpc_proxy.py::test_a_proxy_stops_on_ctrl_c_or_sigterm_however_it_was_started",),
        "a proxy stops cleanly (exit 130) on a scheduler's SIGTERM",
    ),
    Mutant(
        "tui-screen-before-checks",
        "lorasearch_tui/cli/_run.py",
        "    engine_done = threading.Event()\n",
        "    runner.prepare()\n    engine_done = threading.Event()\n",
        (REFUSED,),
        "the terminal UI draws its screen before the data checks and the storage's open (first paint)",
    ),
    Mutant(
        "tui-refused-closes",
        "lorasearch_tui/tui/app.py",
        "            if self.refused is not None:\n",
        "            if False:\n",
        (REFUSED,),
        "a search the checks refuse closes its screen at once",
    ),
    Mutant(
        "tui-refused-said",
        "lorasearch_tui/cli/_run.py",
        "        raise app.refused\n",
        "        pass\n",
        (REFUSED,),
        "what the checks refuse in the terminal UI is said in one line, exit code 2",
    ),
    Mutant(
        "nohup-hangup-ignored",
        "lorasearch_tui/interrupts.py",
        "    kept = signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN\n",
        "    kept = True\n",
        (T + "test_grpc_proxy.py::test_a_proxy_under_nohup_outlives_a_hang_up",),
        "a command under nohup outlives a hang-up (search, evaluate, proxy)",
    ),
    Mutant(
        "tui-stopped-while-preparing",
        "lorasearch_tui/tui/app.py",
        "                return runner.run()\n",
        "                return None if controls.interrupted.is_set() else runner.run()\n",
        (T + "test_tui_engine.py::test_a_search_stopped_while_it_prepares_exits_130_and_starts_no_worker",),
        "a search stopped while it prepares ends with 130 (the run says it ended), no worker started",
    ),
]


def copy_repo(to: Path) -> None:
    """The checkout as git sees it (tracked and untracked, not ignored), without .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            target = to / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def pytest(copy: Path, tests: tuple[str, ...], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run the tests in the copy; (exit code, last lines). 124 when past `timeout`."""
    # a test named by its node id runs whatever its mark; a whole file, only its fast tests
    fast = [] if all("::" in t for t in tests) else ["-m", "not slow"]
    command = [sys.executable, "-m", "pytest", "-q", "-x", *fast, "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 124, out[-2000:]
    return done.returncode, (done.stdout + done.stderr)[-2000:]


def apply(copy: Path, mutant: Mutant) -> str:
    """Write the mutant into the copy; the original text, to put back."""
    path = copy / mutant.file
    text = path.read_text()
    if text.count(mutant.old) != 1:
        raise SystemExit(
            f"stale mutant {mutant.name}: {mutant.file} holds {text.count(mutant.old)} copies of "
            f"{mutant.old!r} (want 1); update bench/mutants.py"
        )
    path.write_text(text.replace(mutant.old, mutant.new))
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="run the mutants whose name holds one of these")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test run")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or any(word in m.name for word in args.only)]
    if args.list or not chosen:
        for m in chosen or MUTANTS:
            print(f"{m.name:24} {m.file}: {m.why}\n{'':24} {' '.join(m.tests)}")
        return 0 if chosen else 2
    with tempfile.TemporaryDirectory(prefix="lorasearch-mutants-") as scratch:
        copy, cache = Path(scratch) / "repo", Path(scratch) / "demo-cache"
        copy_repo(copy)
        env = {**os.environ, "PYTHONPATH": str(copy), "LORASEARCH_TEST_CACHE": str(cache)}
        for mutant in chosen:  # a stale mutant is said before anything runs
            (copy / mutant.file).write_text(apply(copy, mutant))
        claimed = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        print(f"baseline: {len(claimed)} test files/ids, unmutated ...", flush=True)
        code, tail = pytest(copy, claimed, env, args.timeout * 4)
        if code != 0:
            print(f"the claimed tests fail without any mutant (exit {code}):\n{tail}")
            return 1
        rows = []
        for mutant in chosen:
            original = apply(copy, mutant)
            began = time.monotonic()
            try:
                code, tail = pytest(copy, mutant.tests, env, args.timeout)
            finally:
                (copy / mutant.file).write_text(original)
            verdict = {0: "SURVIVED", 1: "caught", 124: "caught (timeout)"}.get(code, f"broken ({code})")
            rows.append((mutant, verdict, time.monotonic() - began))
            print(f"{verdict:18} {mutant.name:24} {time.monotonic() - began:6.1f} s", flush=True)
            if code not in (0, 1, 124):
                print(tail)
    print("\n| mutant | file | promise | verdict | s |\n|---|---|---|---|---|")
    for mutant, verdict, seconds in rows:
        print(f"| {mutant.name} | {mutant.file} | {mutant.why} | {verdict} | {seconds:.0f} |")
    caught = sum(v.startswith("caught") for _, v, _ in rows)
    print(f"\n{caught} of {len(rows)} caught")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())

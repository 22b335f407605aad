"""A scripted engine for the terminal UI's tests: fixed events, no training, no clock."""

from __future__ import annotations

import threading

from lorasearch_tui.events import (
    EvalLogged,
    HardwareSampled,
    SearchControls,
    SearchFinished,
    SearchStarted,
    StepLogged,
    TrialFinished,
    TrialOutcome,
    TrialStarted,
    WorkerStateChanged,
)

GIB = 2**30
SPACE = {"learning_rate": "loguniform(0.001, 0.5)", "lora_r": "categorical[4, 8, 16]"}
FIXED = {
    "model_name": "demo:model",
    "input_data": "demo:ocr",
    "max_seq_length": 256,
    "eval_steps": 10,
    "base_output_dir": "/srv/lorasearch/models/hyperparam_search",
    "seed": 3407,
}


def _folder(number: int) -> str:
    return f"{FIXED['base_output_dir']}/demo_study/trial_{number}"


def _trial(number, params, evals, state, value, best, **extra):
    events = [TrialStarted(number, params, trial_dir=_folder(number))]
    for step in range(1, extra.get("steps", 30) + 1):
        events.append(StepLogged(number, step, 30, 6.0 - step * 0.03 - number * 0.01, 1e-3))
        if step % 10 == 0 and step // 10 <= len(evals):
            events.append(EvalLogged(number, step, evals[step // 10 - 1], extra.get("pruned_at") == step))
    events.append(
        TrialFinished(
            TrialOutcome(
                number=number,
                state=state,
                value=value,
                params=params,
                duration_s=extra.get("duration", 12.0),
                steps=extra.get("steps", 30),
                pruned_at=extra.get("pruned_at"),
                fail_reason=extra.get("fail_reason"),
                peak_memory_bytes=extra.get("peak", int(0.6 * GIB)),
                oom=extra.get("oom", False),
                trial_dir=_folder(number),
            ),
            best,
            5.1 if best is not None else None,
        )
    )
    return events


def script(gpu: bool = False) -> list:
    """A search of four trials so far: complete (best), pruned, OOM, and one running."""
    hardware = HardwareSampled(
        gpus=(
            {
                "index": 0,
                "name": "NVIDIA H100 80GB HBM3",
                "used_bytes": 61 * GIB,
                "total_bytes": 80 * GIB,
                "utilization": 97,
                "temperature_c": 64,
                "power_w": 512.0,
                "worker_bytes": 58 * GIB,
            },
        )
        if gpu
        else (),
        host_used_bytes=6 * GIB,
        host_total_bytes=24 * GIB,
        worker_rss_bytes=int(0.6 * GIB),
        note="" if gpu else "no NVIDIA GPU found: showing host memory",
    )
    events = [
        SearchStarted(
            "demo_study",
            "sqlite:///optuna_studies/demo_study.db",
            "bayesian",
            "median",
            8,
            SPACE,
            FIXED,
            False,
            0,
        ),
        WorkerStateChanged("ready", 4242),
        hardware,
    ]
    events += _trial(
        0, {"learning_rate": 0.0253, "lora_r": 16}, [5.6, 5.2, 5.1], "COMPLETE", 5.1, 0, duration=14.0
    )
    events += _trial(
        1,
        {"learning_rate": 0.0016, "lora_r": 4},
        [7.9, 7.5],
        "PRUNED",
        None,
        0,
        pruned_at=20,
        steps=20,
        duration=5.0,
    )
    events += _trial(
        2,
        {"learning_rate": 0.3, "lora_r": 16},
        [],
        "PRUNED",
        None,
        0,
        steps=3,
        duration=2.0,
        fail_reason="out of memory (peak 79.10 GiB)",
        oom=True,
        peak=int(79.1 * GIB),
    )
    events += [TrialStarted(3, {"learning_rate": 0.05, "lora_r": 8}, trial_dir=_folder(3))]
    events += [StepLogged(3, s, 30, 6.2 - 0.04 * s, 1e-3) for s in range(1, 13)]
    events += [EvalLogged(3, 10, 5.7, False), WorkerStateChanged("training", 4242, "trial 3"), hardware]
    return events


class FakeEngine:
    """Emits the script, then waits until the controls end the search, as the real one would."""

    def __init__(self, controls: SearchControls, gpu: bool = False, at_once: bool = False) -> None:
        """Args:
        at_once: queue the whole script before waking the app, so it is drained in one go:
            a snapshot then cannot depend on how the app's refreshes fell between events.
        """
        self.controls = controls
        self.gpu = gpu
        self.at_once = at_once
        self.done = threading.Event()

    def __call__(self, sink) -> SearchFinished:
        events = script(self.gpu)
        if self.at_once:
            for event in events[:-1]:
                sink.queue.put(event)
            sink.emit(events[-1])
        else:
            for event in events:
                sink.emit(event)
        while not (self.controls.interrupted.is_set() or self.controls.stop_requested.is_set()):
            if self.controls.take_aborts():
                sink.emit(
                    TrialFinished(
                        TrialOutcome(
                            number=3,
                            state="FAIL",
                            params={"learning_rate": 0.05, "lora_r": 8},
                            duration_s=3.0,
                            steps=12,
                            fail_reason="aborted by user",
                            trial_dir=_folder(3),
                        ),
                        0,
                        5.1,
                    )
                )
            self.controls.interrupted.wait(0.02)
        reason = "interrupted" if self.controls.interrupted.is_set() else "stopped"
        finished = SearchFinished(
            reason, {"complete": 1, "pruned": 2, "failed": 1}, 0, 5.1, {"learning_rate": 0.0253, "lora_r": 16}
        )
        sink.emit(finished)
        self.done.set()
        return finished

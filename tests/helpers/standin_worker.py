"""A stand-in trial worker: speaks the pipe protocol (or breaks it on purpose), trains nothing.

`python standin_worker.py BEHAVIOUR READ_FD WRITE_FD`, started by the search through
`SearchOptions.worker_command`. It writes raw JSON lines rather than using lorasearch's
message classes, so that it can send what a broken or foreign worker would. It imports
nothing heavy: a trial takes milliseconds, which keeps the engine's logic tests fast.

Behaviours:
- `good`: a trial of `max_steps` steps (4 when the config has none) with an eval every
  `eval_steps` (2 when there is none or it is longer) and at the end; the eval loss is
  1/(1 + learning_rate) + 0.1/step, so a higher learning rate is better; COMPLETE;
- `slow`: as `good`, with 0.5 s per step (a trial of about 2 s, for keys pressed during one);
- `garbage`: answers a trial with a line that is not JSON;
- `missing`: answers with a `step` message that lacks its fields;
- `nan`: finishes with a NaN eval loss (JSON's non-standard `NaN`);
- `other-trial`: sends a step of another trial than the one it runs;
- `no-start`: says why on stderr and exits 1 before `ready` (a broken environment);
- `silent`: starts the trial, then says nothing more.
- `two-errors`: fails every trial with an exception, `error A` on even trials and `error B` on
  odd ones (failures that differ, for the failure budget);
- `diverged`: every trial's loss diverges at its first step (a failure of its parameters);
- `late-bad`: an eval loss of 0.5 + 0.1/step whatever the parameters, except that from trial 2
  on the last eval is 1.0 worse (a curve that only turns bad where no pruner may judge it).
- `stall`: as `good` for a learning rate of 0.05 or more; below, the eval loss is
  1/(1 + learning_rate) + 0.01 * step, worse at every eval (a curve a patient pruner stops).
- `records`: as `good`, and each eval also sends 8 records' scores: the eval's value plus a
  noise of up to 0.1 whose pattern depends on the trial's number (for the Wilcoxon pruner).
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    behaviour, read_fd, write_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if behaviour == "no-start":
        print("ModuleNotFoundError: No module named 'torch'", file=sys.stderr, flush=True)
        sys.exit(1)
    reader = os.fdopen(read_fd, "rb")
    # What the parent set for this worker, for the tests to read in its log.
    pinned = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")}
    print("standin env " + " ".join(f"{k}={v}" for k, v in pinned.items()), file=sys.stderr, flush=True)

    def send(data: dict | bytes) -> None:
        line = data if isinstance(data, bytes) else json.dumps(data).encode() + b"\n"
        os.write(write_fd, line)

    def receive() -> dict | None:
        line = reader.readline()
        return json.loads(line) if line else None

    send({"event": "ready", "pid": os.getpid()})
    while (command := receive()) is not None:
        if command["cmd"] == "exit":
            return
        trial = command["trial"]
        if behaviour == "garbage":
            send(b"this is not a message\n")
        elif behaviour == "missing":
            send({"event": "step", "number": trial})
        elif behaviour == "other-trial":
            step = {"number": trial + 7, "step": 1, "max_steps": 4, "loss": 1.0, "learning_rate": 0.1}
            send({"event": "step", **step})
        elif behaviour == "two-errors":
            why = "error A" if trial % 2 == 0 else "error B"
            send({"event": "failed", "trial": trial, "kind": "exception", "reason": why})
        elif behaviour == "diverged":
            why = "diverged: loss inf at step 1"
            send({"event": "failed", "trial": trial, "kind": "diverged", "reason": why})
        elif behaviour == "silent":
            send({"event": "started", "trial": trial, "max_steps": 4})
            time.sleep(600)
        else:
            run_trial(trial, command["params"], behaviour, send, receive)


def run_trial(trial: int, params: dict, behaviour: str, send, receive) -> None:
    value = 0.5 if behaviour == "late-bad" else 1.0 / (1.0 + params["learning_rate"])
    max_steps = params["max_steps"] if params.get("max_steps", -1) > 0 else 4
    eval_steps = min(params.get("eval_steps") or 2, max_steps)
    late = 1.0 if behaviour == "late-bad" and trial >= 2 else 0.0
    send({"event": "started", "trial": trial, "max_steps": max_steps})
    for step in range(1, max_steps + 1):
        if behaviour == "slow":
            time.sleep(0.5)
        loss = value + 1 / step
        send(
            {
                "event": "step",
                "number": trial,
                "step": step,
                "max_steps": max_steps,
                "loss": loss,
                "learning_rate": 0.1,
            }
        )
        if step % eval_steps == 0 or step == max_steps:
            at = value + 0.1 / step + (late if step == max_steps else 0.0)
            if behaviour == "stall" and params["learning_rate"] < 0.05:
                at = value + 0.01 * step
            event = {"event": "eval", "number": trial, "step": step, "value": at}
            if behaviour == "records":
                event["scores"] = [at + 0.1 * (((i * 5 + trial * 3) % 7) - 3) / 3 for i in range(8)]
            send(event)
            decision = receive()
            if decision is None:
                sys.exit(1)
            if decision["prune"]:
                finish(trial, at, step, send, pruned_at=step, max_steps=max_steps)
                return
    final = "NaN" if behaviour == "nan" else repr(value + 0.1 / max_steps + late)
    finish(trial, final, max_steps, send, max_steps=max_steps)


def finish(
    trial: int, value: object, steps: int, send, pruned_at: int | None = None, max_steps: int = 4
) -> None:
    result = (
        f'{{"eval_loss": {value}, "steps": {steps}, "max_steps": {max_steps}, "runtime_s": 0.01, '
        f'"tokens_per_s": 100.0, "peak_memory_bytes": 1000, "memory_kind": "rss"}}'
    )
    pruned = "null" if pruned_at is None else str(pruned_at)
    send(f'{{"event": "finished", "trial": {trial}, "result": {result}, "pruned_at": {pruned}}}\n'.encode())


if __name__ == "__main__":
    main()

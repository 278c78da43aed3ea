"""Inside a worker process (local pool or Ray task): one trial in, one outcome out, no raise."""

from __future__ import annotations

import copy
import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class TrialTask:
    trial_id: str
    config: dict[str, Any]  # the resolved config, as JSON
    run_dir: str
    resume: bool  # the run directory holds a partial run: continue it (from its checkpoint if any)
    has_checkpoint: bool
    num_threads: int  # torch threads for this trial (train.num_threads: not part of the trial id)


@dataclass(frozen=True)
class TrialOutcome:
    trial_id: str
    status: str  # ok | diverged | interrupted | failed
    nll_valid: float | None
    epochs: int
    wall_time_s: float
    error: str | None = None  # one line, for failed trials


def run_trial(task: TrialTask) -> TrialOutcome:
    """Train one trial into its run directory; an exception becomes a `failed` outcome."""
    start = time.monotonic()
    try:
        import torch

        torch.set_num_threads(task.num_threads)
        metrics = _train(task)
    except Exception as exc:
        return TrialOutcome(
            task.trial_id, "failed", None, 0, time.monotonic() - start, _one_line(exc)
        )
    return TrialOutcome(
        trial_id=task.trial_id,
        status=metrics.status,
        nll_valid=metrics.nll_valid,
        epochs=metrics.epochs,
        wall_time_s=time.monotonic() - start,
    )


def _train(task: TrialTask) -> Any:
    from rnnbench.config import parse_config
    from rnnbench.train import train

    # Validated here, in the worker: a plugin cell (docs/cells.md) is imported by this process.
    config = parse_config(copy.deepcopy(task.config), f"trial {task.trial_id}")
    config.train.num_threads = task.num_threads  # unhashed: the trial id stays the same
    return train(config, Path(task.run_dir), resume=task.resume)


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split()) or "(no message)"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {message}{where}"


def init_pool_worker(num_threads: int) -> None:
    """Local-pool worker set-up: threads, ignore Ctrl-C (the parent stops us), die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(num_threads)
    _die_with_parent()
    parent = os.getppid()
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this worker the moment the sweep process dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # the polling thread below still ends an orphaned worker


def _exit_when_orphaned(parent: int) -> None:
    """A worker whose sweep was SIGKILLed must not go on writing a trial the next sweep reruns."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)

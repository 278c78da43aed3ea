"""Run a materialized sweep: lock the results directory, record the trial list, skip finished
trials, run the rest on an executor, and log every start and outcome."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rnnbench.errors import RnnbenchError
from rnnbench.sweep.executors import Executor
from rnnbench.sweep.progress import SweepProgress
from rnnbench.sweep.state import TrialState, inspect_run_dir, run_dir_for
from rnnbench.sweep.trial_list import Reconciled, reconcile
from rnnbench.sweep.trials import Trial
from rnnbench.sweep.worker import TrialOutcome, TrialTask

EVENTS_FILE = "sweep-events.jsonl"
LOCK_FILE = ".sweep.lock"


class SweepObserver(Protocol):
    """Told of every change; `line` is a one-line description of the event, None on a clock tick."""

    def update(self, progress: SweepProgress, line: str | None) -> None: ...


class _Quiet:
    def update(self, progress: SweepProgress, line: str | None) -> None:
        return None


@dataclass(frozen=True)
class SweepResult:
    progress: SweepProgress
    reconciled: Reconciled
    results_dir: Path


def run_sweep(
    trials: Sequence[Trial],
    results_dir: Path,
    executor: Executor,
    observer: SweepObserver | None = None,
    *,
    extend: bool = False,
    prepare: Callable[[Sequence[Trial]], None] | None = None,
) -> SweepResult:
    """Run every unfinished trial once; the sweep's own failures raise, a trial's never do.

    `prepare(pending)` runs once before the executor starts, when there is something to run: work
    every trial needs and no worker should repeat or race on (fetching a dataset, building the
    engine).
    """
    observer = observer or _Quiet()
    results_dir.mkdir(parents=True, exist_ok=True)
    with _locked(results_dir):
        reconciled = reconcile(results_dir, trials, extend=extend)
        progress = SweepProgress(total=len(trials))
        pending = _skip_finished(trials, results_dir, progress)
        if not pending:  # nothing to run: do not start a pool or a Ray instance
            return SweepResult(progress, reconciled, results_dir)
        if prepare is not None:
            prepare(pending)
        with executor:
            progress.slots = executor.slots
            tasks = [_task(trial, results_dir, executor.threads) for trial in pending]
            sink = _Sink(
                {trial.trial_id: trial for trial in pending}, progress, observer, results_dir
            )
            observer.update(progress, None)
            executor.run(tasks, sink)
    return SweepResult(progress, reconciled, results_dir)


def _skip_finished(
    trials: Sequence[Trial], results_dir: Path, progress: SweepProgress
) -> list[Trial]:
    pending = []
    for trial in trials:
        state = inspect_run_dir(run_dir_for(results_dir, trial.trial_id))
        if state.state is TrialState.FINISHED and state.metrics is not None:
            progress.skipped += 1
            progress.consider(trial, state.metrics.nll_valid)
        else:
            pending.append(trial)
    return pending


def _task(trial: Trial, results_dir: Path, threads: int) -> TrialTask:
    run_dir = run_dir_for(results_dir, trial.trial_id)
    state = inspect_run_dir(run_dir)
    return TrialTask(
        trial_id=trial.trial_id,
        config=trial.config,
        run_dir=str(run_dir),
        resume=state.state is TrialState.PARTIAL,
        has_checkpoint=state.has_checkpoint,
        num_threads=threads,
    )


class _Sink:
    def __init__(
        self,
        trials: dict[str, Trial],
        progress: SweepProgress,
        observer: SweepObserver,
        results_dir: Path,
    ) -> None:
        self.trials = trials
        self.progress = progress
        self.observer = observer
        self.events = results_dir / EVENTS_FILE

    def started(self, task: TrialTask) -> None:
        trial = self.trials[task.trial_id]
        self.progress.running[trial.trial_id] = trial
        verb = "resume" if task.has_checkpoint else "restart" if task.resume else "start"
        self._log({"event": "started", "trial_id": trial.trial_id, "resume": task.resume})
        self.observer.update(self.progress, f"{verb:<8} {trial.describe()}")

    def finished(self, outcome: TrialOutcome) -> None:
        trial = self.trials[outcome.trial_id]
        self.progress.record(trial, outcome)
        self._log(
            {
                "event": "finished",
                "trial_id": trial.trial_id,
                "status": outcome.status,
                "nll_valid": outcome.nll_valid,
                "wall_time_s": round(outcome.wall_time_s, 3),
                "error": outcome.error,
            }
        )
        self.observer.update(
            self.progress, f"{outcome.status:<8} {trial.describe()}{_detail(outcome)}"
        )

    def tick(self) -> None:
        self.observer.update(self.progress, None)

    def _log(self, event: dict[str, object]) -> None:
        """One JSON line per event, appended: an audit trail of what ran when (read by tests)."""
        record = {"time": round(time.time(), 3), "pid": os.getpid(), **event}
        with self.events.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def _detail(outcome: TrialOutcome) -> str:
    if outcome.status == "failed":
        return f"  {outcome.error}"
    if outcome.nll_valid is None:
        return ""
    return f"  valid NLL {outcome.nll_valid:.3f}  ({outcome.wall_time_s:.0f} s)"


@contextlib.contextmanager
def _locked(results_dir: Path) -> Iterator[None]:
    """One sweep at a time per results directory (the lock dies with its process)."""
    path = results_dir / LOCK_FILE
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise RnnbenchError(
                f"{results_dir} is in use by another sweep (pid {holder}); "
                "wait for it or use another --results-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield

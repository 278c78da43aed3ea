"""Executors: run trial tasks a few at a time and report each start and outcome to a sink.

At most `slots` trials are in flight at once (a task is submitted only when a slot frees up), so a
killed sweep loses at most `slots` trials. `slots` x `threads` (torch threads per trial) never
exceeds the CPU cores available (local) or the cluster's CPUs (Ray schedules `threads` CPUs a task).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Protocol

from rnnbench.errors import UsageError
from rnnbench.sweep.worker import TrialOutcome, TrialTask, init_pool_worker, run_trial

TICK_S = 0.5
TERMINATE_WAIT_S = 5.0


class TaskSink(Protocol):
    def started(self, task: TrialTask) -> None: ...
    def finished(self, outcome: TrialOutcome) -> None: ...
    def tick(self) -> None: ...


class Executor(Protocol):
    name: str
    slots: int  # trials in flight at once
    threads: int  # torch threads per trial

    def __enter__(self) -> Executor: ...
    def __exit__(self, *exc: object) -> None: ...
    def run(self, tasks: Sequence[TrialTask], sink: TaskSink) -> None: ...


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split_cores(cores: int, workers: int | None) -> tuple[int, int]:
    """(workers, torch threads per worker) with workers x threads <= cores."""
    if workers is None:
        return cores, 1
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if workers > cores:
        raise UsageError(
            f"--workers {workers} exceeds the {cores} CPU cores available "
            "(workers x torch threads must fit the cores)"
        )
    return workers, cores // workers


def failed_outcome(task: TrialTask, error: str) -> TrialOutcome:
    return TrialOutcome(task.trial_id, "failed", None, 0, 0.0, error)


class LocalExecutor:
    """A process pool (spawn context) on this machine."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.slots, self.threads = split_cores(available_cores(), workers)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, tasks: Sequence[TrialTask], sink: TaskSink) -> None:
        queue = deque(tasks)
        while queue:  # a new pool only if a worker died and broke the previous one
            self._run_pool(queue, sink)

    def _run_pool(self, queue: deque[TrialTask], sink: TaskSink) -> None:
        pool = ProcessPoolExecutor(
            max_workers=self.slots,
            mp_context=get_context("spawn"),
            initializer=init_pool_worker,
            initargs=(self.threads,),
        )
        running: dict[Future[TrialOutcome], TrialTask] = {}
        try:
            while queue or running:
                _fill(queue, running, self.slots, lambda task: pool.submit(run_trial, task), sink)
                if not _collect(running, sink):
                    _drain_broken(running, sink)
                    break
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown(wait=True)


def _fill(
    queue: deque[TrialTask],
    running: dict[Future[TrialOutcome], TrialTask],
    slots: int,
    submit: Callable[[TrialTask], Future[TrialOutcome]],
    sink: TaskSink,
) -> None:
    while queue and len(running) < slots:
        task = queue.popleft()
        running[submit(task)] = task
        sink.started(task)


def _collect(running: dict[Future[TrialOutcome], TrialTask], sink: TaskSink) -> bool:
    """Report finished futures; False when the pool broke (a worker process died)."""
    done, _ = wait(running, timeout=TICK_S, return_when=FIRST_COMPLETED)
    healthy = True
    for future in done:
        task = running.pop(future)
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            healthy = False
            sink.finished(failed_outcome(task, "worker process died (killed, or out of memory?)"))
        elif error is not None:
            sink.finished(failed_outcome(task, f"{type(error).__name__}: {error}"))
        else:
            sink.finished(future.result())
    sink.tick()
    return healthy


def _drain_broken(running: dict[Future[TrialOutcome], TrialTask], sink: TaskSink) -> None:
    for future, task in list(running.items()):
        future.exception()  # a broken pool fails every pending future promptly
        sink.finished(failed_outcome(task, "lost when another worker process died"))
    running.clear()


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (they ignore Ctrl-C); their trials stay partial and rerun later."""
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(TERMINATE_WAIT_S)
    pool.shutdown(wait=False, cancel_futures=True)

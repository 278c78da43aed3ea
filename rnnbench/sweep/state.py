"""The resume rule: what a trial's run directory says about whether to run it.

- metrics.json with status `ok` or `diverged`: finished, never run again (diverged is a result);
- metrics.json with status `running`/`interrupted`, an unreadable one, or a directory with no
  metrics.json: partial, run again with `train(resume=True)`, which continues from checkpoint.pt
  (the last finished epoch) when there is one and starts afresh otherwise;
- no directory: new.
metrics.json is written atomically, so a finished trial is never mistaken for a partial one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from rnnbench.records import (
    CHECKPOINT_FILE,
    FINISHED_STATUSES,
    METRICS_FILE,
    RecordError,
    RunMetrics,
    read_metrics,
)

RUNS_DIR = "runs"


class TrialState(Enum):
    NEW = "new"
    PARTIAL = "partial"
    FINISHED = "finished"


@dataclass(frozen=True)
class RunDirState:
    state: TrialState
    metrics: RunMetrics | None  # the finished run's metrics
    has_checkpoint: bool


def run_dir_for(results_dir: Path, trial_id: str) -> Path:
    return results_dir / RUNS_DIR / trial_id


def inspect_run_dir(run_dir: Path) -> RunDirState:
    has_checkpoint = (run_dir / CHECKPOINT_FILE).is_file()
    if not run_dir.is_dir():
        return RunDirState(TrialState.NEW, None, has_checkpoint=False)
    if not (run_dir / METRICS_FILE).is_file():
        return RunDirState(TrialState.PARTIAL, None, has_checkpoint)
    try:
        metrics = read_metrics(run_dir)
    except RecordError:
        return RunDirState(TrialState.PARTIAL, None, has_checkpoint)
    if metrics.status in FINISHED_STATUSES:
        return RunDirState(TrialState.FINISHED, metrics, has_checkpoint)
    return RunDirState(TrialState.PARTIAL, None, has_checkpoint)

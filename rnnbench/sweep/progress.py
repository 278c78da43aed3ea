"""The sweep's running tally, shared by the runner and whatever displays it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from rnnbench.sweep.trials import Trial
from rnnbench.sweep.worker import TrialOutcome


@dataclass(frozen=True)
class Best:
    trial_id: str
    lr: float
    nll_valid: float


@dataclass
class SweepProgress:
    total: int
    slots: int = 1
    skipped: int = 0  # finished before this command
    ok: int = 0
    diverged: int = 0
    interrupted: int = 0  # stopped inside the trial; rerun resumes it
    failed: list[tuple[Trial, str]] = field(default_factory=list)
    running: dict[str, Trial] = field(default_factory=dict)
    best: dict[tuple[str, str], Best] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.skipped + self.ok + self.diverged

    @property
    def remaining(self) -> int:
        return self.total - self.done - len(self.failed) - self.interrupted

    def consider(self, trial: Trial, nll_valid: float | None) -> None:
        if nll_valid is None or not math.isfinite(nll_valid):
            return
        key = (trial.dataset, trial.cell)
        current = self.best.get(key)
        if current is None or nll_valid < current.nll_valid:
            self.best[key] = Best(trial.trial_id, trial.lr, nll_valid)

    def record(self, trial: Trial, outcome: TrialOutcome) -> None:
        self.running.pop(trial.trial_id, None)
        if outcome.status == "failed":
            self.failed.append((trial, outcome.error or "unknown error"))
            return
        if outcome.status == "interrupted":
            self.interrupted += 1
            return
        self.durations.append(outcome.wall_time_s)
        if outcome.status == "diverged":
            self.diverged += 1
        else:
            self.ok += 1
        self.consider(trial, outcome.nll_valid)

    def eta_s(self) -> float | None:
        """Mean trial time so far x trials left / trials at once (None before any finish)."""
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        waves = math.ceil(self.remaining / max(1, self.slots))
        return mean * waves

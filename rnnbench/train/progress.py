"""Progress events the trainer reports to its caller (the CLI renders them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Progress:
    stage: Literal["start", "epoch", "final"]
    epoch: int  # epochs completed so far
    max_epochs: int
    elapsed_s: float  # training wall time so far (all sessions of a resumed run)
    nll_train: float | None = None
    nll_valid: float | None = None
    best_epoch: int = 0
    best_nll_valid: float | None = None


ProgressCallback = Callable[[Progress], None]

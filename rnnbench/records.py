"""The run record: the files every training run leaves behind, shared by train, sweep and compare.

A run directory holds (all written atomically):

    config.yaml          the fully resolved config that produced the run
    history.csv          one row per epoch: epoch, wall_time_s, nll_train, nll_valid, ...
                         (see HISTORY_COLUMNS)
    metrics.json         the final summary (RunMetrics below); present once the run has started
    per_sequence.csv     split, index, frames, nll_sum: per-sequence NLL (nats, summed over the
                         sequence's predicted frames), for paired bootstrap statistics
    checkpoint.pt        weights-only checkpoint (model, optimizer, RNG, epoch); never committed

Pooled NLL of a split = sum(nll_sum) / sum(frames) over its sequences.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rnnbench.errors import RnnbenchError

CONFIG_FILE = "config.yaml"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
PER_SEQUENCE_FILE = "per_sequence.csv"
CHECKPOINT_FILE = "checkpoint.pt"

HISTORY_COLUMNS = ("epoch", "wall_time_s", "nll_train", "nll_valid", "lr", "grad_norm")
PER_SEQUENCE_COLUMNS = ("split", "index", "frames", "nll_sum")

Status = Literal["ok", "diverged", "interrupted", "running"]
# ok: stopped by the epoch cap or patience. diverged: stopped by a NaN/inf loss, gradient or
# validation NLL; like early stopping, the best weights so far (by validation NLL) are then
# evaluated, unless the first epoch already diverged (no NLLs). Both are finished results.
FINISHED_STATUSES = ("ok", "diverged")


class RunMetrics(BaseModel):
    """metrics.json. Extra fields are allowed so newer writers stay readable by older readers."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    status: Status
    dataset: str
    cell: str  # tanh | gru | lstm | a registered custom cell
    variant: str  # paper | fused
    hidden_size: int
    params_recurrent: int  # the recurrent layer as it really is (paper convention)
    params_total: int  # plus the output layer, hidden_size * 88 + 88
    lr: float
    seed: int
    batch_size: int
    weight_noise: float
    epochs: int  # epochs completed
    best_epoch: int  # epoch whose weights were kept (by validation NLL)
    nll_train: float | None  # nats per predicted frame, pooled over the split, no weight noise
    nll_valid: float | None
    nll_test: float | None
    frame_acc_test: float | None  # TP / (TP + FP + FN) at threshold 0.5
    wall_time_s: float  # training wall time, evaluation included
    frames_per_s: float  # training frames per second (forward + backward + step)
    device: str
    torch_version: str
    rnnbench_version: str
    config_hash: str  # stable hash of the resolved config (sweeps use it as the trial id)


def has_result(status: str, nll_valid: Any, nll_test: Any) -> bool:
    """Finished with finite validation and test NLL: a result that can be compared and chosen.
    The one rule behind compare's `usable_mask` and the choice of `--best-seeds`."""
    values = (nll_valid, nll_test)
    finite = all(isinstance(value, int | float) and math.isfinite(value) for value in values)
    return status in FINISHED_STATUSES and finite


class RecordError(RnnbenchError):
    """A run directory or metrics file that cannot be read."""


def read_metrics(run_dir: Path) -> RunMetrics:
    path = run_dir / METRICS_FILE
    try:
        data: Any = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RecordError(f"{path}: no metrics.json (not a run directory?)") from exc
    except (OSError, ValueError) as exc:  # ValueError: invalid JSON or invalid UTF-8
        raise RecordError(f"{path}: unreadable metrics ({exc})") from exc
    try:
        return RunMetrics.model_validate(data)
    except ValueError as exc:
        first = str(exc).splitlines()[1] if len(str(exc).splitlines()) > 1 else str(exc)
        raise RecordError(f"{path}: invalid metrics ({first.strip()})") from exc

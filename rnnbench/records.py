"""The run record: the files every training run leaves behind, shared by train, sweep and compare.

A run directory holds (all written atomically):

    config.yaml          the fully resolved config that produced the run
    history.csv          one row per epoch: epoch, wall_time_s, nll_train, nll_valid, ...
                         (see HISTORY_COLUMNS)
    metrics.json         the final summary (RunMetrics below); present once the run has started
    per_sequence.csv     split, index, frames, nll_sum: per-sequence NLL (nats, summed over the
                         sequence's predicted frames), for paired bootstrap statistics
    checkpoint.pt        weights-only checkpoint (model, optimizer, RNG, epoch); never committed

Two averages of a split's NLL (nats per predicted frame), both in metrics.json:
    pooled (nll_<split>)             sum(nll_sum) / sum(frames) over the split's sequences
    per-piece (nll_<split>_seqmean)  mean over the sequences of nll_sum / frames (`sequence_mean`)
Records written before the per-piece fields existed lack them; compare computes them from
per_sequence.csv with the same function.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

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


def _not_negative(value: float | None) -> float | None:
    """None and NaN pass (a run without that result, e.g. diverged); a negative value cannot be."""
    if value is not None and value < 0:
        raise ValueError("must be >= 0")
    return value


def _fraction(value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 1 and not math.isnan(value):
        raise ValueError("must be between 0 and 1")
    return value


NotNegative = Annotated[float, AfterValidator(_not_negative)]
Nll = Annotated[float | None, AfterValidator(_not_negative)]
Fraction = Annotated[float | None, AfterValidator(_fraction)]
Count = Annotated[int, Field(ge=0)]


class CellOrigin(BaseModel):
    """Where a cell from outside the package came from (docs/cells.md): enough to trace a result
    to the code that made it. Built-in cells have none (rnnbench_version says it)."""

    model_config = ConfigDict(extra="allow")

    import_path: str  # package.module:Class
    entry_point: str | None = None  # the rnnbench.cells entry-point name, if named by one
    distribution: str | None = None  # the installed distribution providing it, if any
    version: str | None = None  # that distribution's version
    source_file: str | None = None  # the file defining the class
    source_sha256: str | None = None  # sha256 of that file when the run started


class RunMetrics(BaseModel):
    """metrics.json. Extra fields are allowed so newer writers stay readable by older readers.
    Read with `read_metrics`: strict types (no "1.5" for a number, no true for an integer)."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    status: Status
    dataset: str
    cell: str  # tanh | gru | lstm | a plugin's import path or entry-point name (docs/cells.md)
    variant: str  # paper | fused
    hidden_size: int = Field(gt=0)
    params_recurrent: Count  # the recurrent layer as it really is (paper convention)
    params_total: Count  # plus the output layer, hidden_size * 88 + 88
    lr: float = Field(gt=0)
    seed: Count
    batch_size: int = Field(ge=1)
    weight_noise: NotNegative
    epochs: Count  # epochs completed
    best_epoch: Count  # epoch whose weights were kept (by validation NLL)
    nll_train: Nll  # nats per predicted frame, pooled over the split, no weight noise
    nll_valid: Nll
    nll_test: Nll
    # The same splits as the mean over their pieces of each piece's NLL per frame (see the module
    # docstring); None where the run has no result, or in records written before these fields.
    nll_train_seqmean: Nll = None
    nll_valid_seqmean: Nll = None
    nll_test_seqmean: Nll = None
    frame_acc_test: Fraction  # TP / (TP + FP + FN) at threshold 0.5
    wall_time_s: NotNegative  # training wall time, evaluation included
    frames_per_s: NotNegative  # training frames per second (forward + backward + step)
    device: str
    torch_version: str
    rnnbench_version: str
    config_hash: str  # stable hash of the resolved config (sweeps use it as the trial id)
    # Content digest of the dataset trained on (rnnbench.data's Dataset.digest); None in records
    # written before it was recorded, and for runs on in-memory splits. compare refuses to pool
    # runs of one dataset name trained on different data.
    data_digest: str | None = None
    # A plugin cell's import path, distribution, version and source digest; None for built-ins.
    cell_origin: CellOrigin | None = None


SPLITS = ("train", "valid", "test")
AVERAGES = ("pooled", "seqmean")  # pooled over a split's frames | mean over its pieces
SEQMEAN_SUFFIX = "_seqmean"


def nll_field(split: str, average: str) -> str:
    """The metrics.json field of a split's NLL under an average: nll_test, nll_test_seqmean."""
    return f"nll_{split}" + (SEQMEAN_SUFFIX if average == "seqmean" else "")


def sequence_mean(rows: Iterable[tuple[int, float]]) -> float:
    """The per-piece mean NLL from (frames, nll_sum) per sequence: the mean of nll_sum / frames
    over the sequences with predicted frames (a one-frame piece predicts none); NaN when none has.
    """
    per_frame = [nll_sum / frames for frames, nll_sum in rows if frames > 0]
    return math.fsum(per_frame) / len(per_frame) if per_frame else math.nan


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
    except RecursionError:
        raise RecordError(f"{path}: unreadable metrics (JSON nested too deeply)") from None
    try:
        return RunMetrics.model_validate(data, strict=True)
    except ValidationError as exc:
        raise RecordError(f"{path}: invalid metrics ({describe_validation_error(exc)})") from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a JSON record, as 'missing field X' or 'X: expected a number, got
    string' (and how many more there are)."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        text = f"missing field {field}"
    elif kind == "model_type":
        text = f"expected a JSON object, got {json_type(value)}"
    elif kind in _EXPECTED:
        text = f"{field}: expected {_EXPECTED[kind]}, got {json_type(value)}"
    elif kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        text = f"{field}: must be {sign} {error.get('ctx', {}).get(key)}, got {_shown(value)}"
    else:
        message = error["msg"].removeprefix("Value error, ")
        text = f"{field}: {message[:1].lower()}{message[1:]}, got {_shown(value)}"
    more = len(exc.errors()) - 1
    return text + (f" (and {more} more)" if more else "")


_EXPECTED = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
}


_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge")}


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {str: "string", int: "integer", float: "number", list: "array", dict: "object"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), "a value")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."

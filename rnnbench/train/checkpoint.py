"""Checking a loaded checkpoint, entry by entry, before any of it is used (resume and sample).

torch.load(weights_only=True) guarantees tensors and plain containers, nothing more: a checkpoint
edited by hand, damaged, or written for another config must fail here with the entry at fault,
not as a TypeError in the progress line or as a shape error after a whole training run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch

from rnnbench.records import HISTORY_COLUMNS


class BadEntryError(ValueError):
    """One checkpoint entry (dotted path, e.g. 'progression.epoch') that cannot be used."""

    def __init__(self, entry: str, problem: str) -> None:
        super().__init__(f"'{entry}': {problem}")
        self.entry = entry


def _kind(value: object) -> str:
    """A short description of a value for an error line (never a whole tensor or dict)."""
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}"
    if isinstance(value, bool | int | float | str | None):
        return repr(value)[:40]
    return f"a {type(value).__name__}"


def _mapping(entry: str, value: object, keys: set[str] | None = None) -> dict[Any, Any]:
    """A dict (with exactly `keys`, when given)."""
    if not isinstance(value, dict):
        raise BadEntryError(entry, f"expected a mapping, got {_kind(value)}")
    if keys is not None:
        for key in sorted(keys):
            if key not in value:
                raise BadEntryError(f"{entry}.{key}", "missing")
        for key in value:
            if key not in keys:
                raise BadEntryError(f"{entry}.{key}", "unknown entry")
    return value


def check_weights(entry: str, weights: object, reference: Mapping[str, torch.Tensor]) -> None:
    """A state dict with the reference's names, float tensors of the reference's shapes."""
    weights = _mapping(entry, weights, set(reference))
    for name, expected in reference.items():
        tensor = weights[name]
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise BadEntryError(f"{entry}.{name}", f"expected a float tensor, got {_kind(tensor)}")
        if tensor.shape != expected.shape:
            raise BadEntryError(
                f"{entry}.{name}",
                f"shape {tuple(tensor.shape)} does not fit this config's model "
                f"({tuple(expected.shape)})",
            )


def _integer(entry: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadEntryError(entry, f"expected an integer in {low}..{high}, got {_kind(value)}")
    return value


def _number(entry: str, value: object, *, finite: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadEntryError(entry, f"expected a number, got {_kind(value)}")
    if finite and not math.isfinite(value):
        raise BadEntryError(entry, f"expected a finite number, got {value}")
    return float(value)


def check_progression(value: object, fields: set[str], max_epochs: int) -> None:
    """Counters in range and consistent with each other; one history row per epoch."""
    progression = _mapping("progression", value, fields)
    epoch = _integer("progression.epoch", progression["epoch"], 0, max_epochs)
    best_epoch = _integer("progression.best_epoch", progression["best_epoch"], 0, epoch)
    bad_epochs = _integer("progression.bad_epochs", progression["bad_epochs"], 0, epoch)
    if bad_epochs != epoch - best_epoch:
        raise BadEntryError(
            "progression.bad_epochs", f"{bad_epochs}, but epoch {epoch} - best_epoch {best_epoch}"
        )
    best = _number("progression.best_nll_valid", progression["best_nll_valid"], finite=False)
    if not (math.isfinite(best) if best_epoch else best == math.inf):
        expected = "a finite number" if best_epoch else "inf (no best epoch yet)"
        raise BadEntryError("progression.best_nll_valid", f"expected {expected}, got {best}")
    for name in ("wall_time_s", "train_time_s"):
        if _number(f"progression.{name}", progression[name]) < 0:
            raise BadEntryError(f"progression.{name}", "negative")
    _integer("progression.train_frames", progression["train_frames"], 0, 2**63 - 1)
    _check_history(progression["history"], epoch)


def _check_history(value: object, epochs: int) -> None:
    if not isinstance(value, list) or len(value) != epochs:
        got = f"{len(value)} rows" if isinstance(value, list) else _kind(value)
        raise BadEntryError("progression.history", f"expected a list of {epochs} rows, got {got}")
    for index, item in enumerate(value):
        entry = f"progression.history.{index}"
        row = _mapping(entry, item, set(HISTORY_COLUMNS))
        _integer(f"{entry}.epoch", row["epoch"], index + 1, index + 1)
        for column in HISTORY_COLUMNS[1:]:
            if not (column == "nll_train" and row[column] is None):
                _number(f"{entry}.{column}", row[column], finite=False)


# RMSprop settings that change the updates. Implementation flags (foreach, fused, capturable,
# differentiable) are left out: a checkpoint written with foreach=None resumes under foreach=True.
# With a learning-rate schedule the group's lr moves each epoch: its base, initial_lr, is compared.
OPTIMIZER_SETTINGS = (
    *("lr", "initial_lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
    *("rms_floor", "update_clip"),  # the librnn rule (train/optimizers.py)
)


def check_optimizer(value: object, optimizer: torch.optim.Optimizer) -> None:
    """The same parameter groups and settings as the config's optimizer; per-parameter state
    tensors shaped like their parameters."""
    saved = _mapping("optimizer", value, {"state", "param_groups"})
    reference = optimizer.state_dict()["param_groups"]
    groups = saved["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(reference):
        raise BadEntryError("optimizer.param_groups", f"expected {len(reference)} group(s)")
    for index, (item, expected) in enumerate(zip(groups, reference, strict=True)):
        group = _mapping(f"optimizer.param_groups.{index}", item)
        for key in OPTIMIZER_SETTINGS:  # what changes the arithmetic, not how it is run
            if key == "lr" and "initial_lr" in expected:
                continue
            setting = expected.get(key)
            if key in group and key in expected and group[key] != setting:
                raise BadEntryError(
                    f"optimizer.param_groups.{index}.{key}",
                    f"{_kind(group[key])}, but this config's optimizer has {setting!r}"[:120],
                )
    params = [param for group in optimizer.param_groups for param in group["params"]]
    for index, state in _mapping("optimizer.state", saved["state"]).items():
        entry = f"optimizer.state.{index}"
        _integer(entry, index, 0, len(params) - 1)
        for name, tensor in _mapping(entry, state).items():
            shape = () if name == "step" else tuple(params[index].shape)
            if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape:
                problem = f"expected shape {shape}, got {_kind(tensor)}"
                raise BadEntryError(f"{entry}.{name}", problem)


def check_rng(value: object) -> None:
    rng = _mapping("rng", value, {"torch", "cuda"})
    expected = torch.get_rng_state()
    tensor = rng["torch"]
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != expected.dtype:
        raise BadEntryError("rng.torch", f"expected a uint8 tensor, got {_kind(tensor)}")
    if tensor.shape != expected.shape:
        problem = f"expected shape {tuple(expected.shape)}, got {_kind(tensor)}"
        raise BadEntryError("rng.torch", problem)
    cuda = rng["cuda"]
    if not isinstance(cuda, list) or not all(isinstance(item, torch.Tensor) for item in cuda):
        raise BadEntryError("rng.cuda", f"expected a list of tensors, got {_kind(cuda)}")


def check_checkpoint(
    checkpoint: Mapping[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progression_type: type,
    max_epochs: int,
) -> None:
    """Every entry a resume uses, against the model and optimizer the run's config builds."""
    reference = model.state_dict()
    check_weights("model", checkpoint["model"], reference)
    check_weights("best_model", checkpoint["best_model"], reference)
    check_optimizer(checkpoint["optimizer"], optimizer)
    fields = {field.name for field in dataclasses.fields(progression_type)}
    check_progression(checkpoint["progression"], fields, max_epochs)
    check_rng(checkpoint["rng"])

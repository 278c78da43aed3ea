"""Writing and reading the run record (names and schema in rnnbench.records), all atomic."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rnnbench.config import Config, config_to_yaml, load_config
from rnnbench.errors import TrainingError
from rnnbench.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from rnnbench.records import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRICS_FILE,
    PER_SEQUENCE_COLUMNS,
    PER_SEQUENCE_FILE,
    RunMetrics,
)

CHECKPOINT_FORMAT = 1


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[column] for column in columns] if isinstance(row, Mapping) else row)
    return buffer.getvalue()


def write_config(run_dir: Path, config: Config) -> None:
    atomic_write_text(run_dir / CONFIG_FILE, config_to_yaml(config))


def read_run_config(run_dir: Path) -> Config:
    """The resolved config a run was started with (for --resume and sample)."""
    return load_config(run_dir / CONFIG_FILE)


def write_history(run_dir: Path, history: Sequence[Mapping[str, Any]]) -> None:
    atomic_write_text(run_dir / HISTORY_FILE, csv_text(HISTORY_COLUMNS, history))


def write_metrics(run_dir: Path, metrics: RunMetrics) -> None:
    atomic_write_json(run_dir / METRICS_FILE, metrics.model_dump(mode="json"))


def write_per_sequence(run_dir: Path, rows: Iterable[tuple[str, int, int, float]]) -> None:
    atomic_write_text(run_dir / PER_SEQUENCE_FILE, csv_text(PER_SEQUENCE_COLUMNS, rows))


def save_checkpoint(run_dir: Path, checkpoint: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **checkpoint}, buffer)
    atomic_write_bytes(run_dir / CHECKPOINT_FILE, buffer.getvalue())


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """Load checkpoint.pt with weights_only=True (tensors and plain containers only)."""
    path = run_dir / CHECKPOINT_FILE
    if not path.is_file():
        raise TrainingError(f"{path}: no checkpoint (the run has not finished an epoch)")
    try:
        checkpoint: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise TrainingError(f"{path}: unreadable checkpoint ({type(exc).__name__})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not an rnnbench checkpoint (format {CHECKPOINT_FORMAT})")
    for key, kind in CHECKPOINT_FIELDS.items():
        if not isinstance(checkpoint.get(key), kind):
            raise TrainingError(f"{path}: not an rnnbench checkpoint (missing or bad '{key}')")
    return checkpoint


# What every checkpoint holds (train/state.py's to_checkpoint), checked before anything is used.
CHECKPOINT_FIELDS: dict[str, type] = {
    "config_hash": str,
    "finished": bool,
    "model": dict,
    "best_model": dict,
    "optimizer": dict,
    "progression": dict,
    "rng": dict,
}

"""Synthetic run directories in the real run-record format (records.py), for report tests."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rnnbench.cells import CELLS
from rnnbench.io import atomic_open, atomic_write_json, atomic_write_text
from rnnbench.records import (
    CONFIG_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRICS_FILE,
    PER_SEQUENCE_COLUMNS,
    PER_SEQUENCE_FILE,
    RunMetrics,
)

TEST_FRAMES = (40, 55, 61, 33, 72, 48, 90, 29, 64, 51)  # frames per test sequence (10 sequences)

MakeRun = Callable[..., Path]


def recurrent_params(cell: str, hidden: int) -> int:
    spec = CELLS.get(cell)
    gates = spec.gates if spec is not None else 1
    peepholes = 3 * hidden if spec is not None and spec.peephole else 0
    return gates * (88 * hidden + hidden * hidden + hidden) + peepholes


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def history_rows(
    epochs: int, nll_train: float, nll_valid: float, lr: float
) -> list[dict[str, Any]]:
    """Decreasing learning curves that end at the given NLLs, 1.5 s per epoch."""
    rows = []
    for epoch in range(1, epochs + 1):
        excess = 3.0 * np.exp(-epoch / 3)  # the curve's distance from its final value
        rows.append(
            {"epoch": epoch, "wall_time_s": 1.5 * epoch, "nll_train": nll_train + excess,
             "nll_valid": nll_valid + 0.8 * excess, "lr": lr, "grad_norm": 1.0 / epoch}
        )  # fmt: skip
    return rows


def per_sequence_rows(
    nll_test: float, deviations: list[float] | None, frames: tuple[int, ...] = TEST_FRAMES
) -> list[dict[str, Any]]:
    """Test rows whose pooled NLL is exactly nll_test: nll_sum_i = frames_i * (nll_test + d_i) with
    the frame-weighted deviations d_i summing to zero."""
    raw = np.asarray(deviations if deviations is not None else [0.0] * len(frames), dtype=float)
    weights = np.asarray(frames, dtype=float)
    centered = raw - (raw * weights).sum() / weights.sum()
    return [
        {"split": "test", "index": index, "frames": frames[index],
         "nll_sum": frames[index] * (nll_test + centered[index])}
        for index in range(len(frames))
    ]  # fmt: skip


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """Write one run directory under tmp_path/runs and return it."""
    counter = iter(range(10_000))

    def make(
        dataset: str = "jsb",
        cell: str = "gru",
        *,
        lr: float = 1e-3,
        seed: int = 0,
        status: str = "ok",
        nll_train: float | None = 7.0,
        nll_valid: float | None = 8.0,
        nll_test: float | None = 8.5,
        frames_per_s: float = 5000.0,
        epochs: int = 8,
        variant: str = "paper",
        deviations: list[float] | None = None,
        root: Path | None = None,
        max_sequences: int | None = None,
        max_epochs: int = 500,
        seqmean: tuple[float, float, float] | None = None,
    ) -> Path:
        spec = CELLS.get(cell)
        hidden = (spec.paper_hidden_size if spec is not None else None) or 50
        run_id = f"{dataset}-{cell}-{variant}-lr{lr:g}-s{seed}-{next(counter)}"
        run_dir = (root or tmp_path / "runs") / run_id
        metrics = RunMetrics(
            run_id=run_id, status=status, dataset=dataset, cell=cell, variant=variant,  # type: ignore[arg-type]
            hidden_size=hidden, params_recurrent=recurrent_params(cell, hidden),
            params_total=recurrent_params(cell, hidden) + hidden * 88 + 88, lr=lr, seed=seed,
            batch_size=1, weight_noise=0.075, epochs=epochs, best_epoch=max(1, epochs - 1),
            nll_train=nll_train, nll_valid=nll_valid, nll_test=nll_test, frame_acc_test=0.3,
            wall_time_s=1.5 * epochs, frames_per_s=frames_per_s, device="cpu",
            torch_version="2.13.0", rnnbench_version="0.1.0", config_hash=run_id,
        )  # fmt: skip
        names = ("nll_train_seqmean", "nll_valid_seqmean", "nll_test_seqmean")
        record = metrics.model_dump(exclude=set(names))  # no per-piece NLLs: an older record
        if seqmean is not None:  # a newer one: train, valid, test per-piece NLLs
            record.update(zip(names, seqmean, strict=True))
        atomic_write_json(run_dir / METRICS_FILE, record)
        config = {
            "seed": seed, "device": "cpu",
            "data": {"data_dir": str(tmp_path), "name": dataset, "max_sequences": max_sequences},
            "model": {"cell": cell, "variant": variant, "hidden_size": hidden, "init": "paper"},
            "optim": {"lr": lr, "weight_noise": 0.075, "clip_norm": 1.0},
            "train": {"batch_size": 1, "max_epochs": max_epochs, "patience": 20, "num_threads": 1},
        }  # fmt: skip
        atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))
        curve_end = (nll_train or 7.0, nll_valid or 8.0)
        write_csv(run_dir / HISTORY_FILE, HISTORY_COLUMNS, history_rows(epochs, *curve_end, lr))
        if nll_test is not None:
            write_csv(
                run_dir / PER_SEQUENCE_FILE,
                PER_SEQUENCE_COLUMNS,
                per_sequence_rows(nll_test, deviations),
            )
        return run_dir

    return make


@pytest.fixture
def paper_suite(make_run: MakeRun, tmp_path: Path) -> Path:
    """Three cells on one dataset, each a 3-learning-rate search with 3 seeds at the middle rate,
    one diverged run; returns the folder holding them."""
    base = {"tanh": 9.0, "gru": 8.5, "lstm": 8.7}
    for cell_index, (cell, test) in enumerate(base.items()):
        for lr, penalty in ((1e-4, 0.4), (1e-3, 0.0), (1e-2, 0.3)):
            seeds = (0, 1, 2) if penalty == 0.0 else (0,)
            for seed in seeds:
                jitter = 0.02 * (seed - 1)
                rng = np.random.default_rng(100 * cell_index + seed)
                make_run(
                    "jsb", cell, lr=lr, seed=seed, nll_test=test + penalty + jitter,
                    nll_valid=test - 0.2 + penalty + jitter, nll_train=test - 1.0 + jitter,
                    deviations=list(rng.normal(0, 0.3, len(TEST_FRAMES))),
                )  # fmt: skip
        make_run(
            "jsb", cell, lr=0.05, status="diverged", nll_train=None, nll_valid=None, nll_test=None
        )
    return tmp_path / "runs"

"""End-to-end training cost on the real datasets: padding, epoch time, full-protocol projection.

For each dataset and paper cell (the paper configs: paper variant, batch 8, weight noise 0.075,
clip 1, RMSProp), on one thread with flush-denormal on, as the trainer runs:
- padding fraction of an epoch's batches: random batches (no bucketing) vs length buckets;
- train-epoch wall time, estimated from `--sample` random batches of the epoch (mean time per
  batch x batches per epoch): *before* = reference per-step autograd kernels on random batches,
  *after* = the engine's kernels on length buckets;
- one validation pass (eval batch 64, `torch.inference_mode`) before and after.
The projection multiplies (train epoch + validation pass) by `--epochs` (the assumed mean epoch
count under early stopping) and by 10 learning rates x 4 datasets x 3 cells, divided by
`--workers` parallel single-thread runs.

    python benchmarks/end_to_end.py --mirror ../shared/datasets/mirror --data-dir data > e2e.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnbench.cells import auto_hidden_size, paper_cells
from rnnbench.config import MAX_HIDDEN_SIZE, OptimConfig
from rnnbench.data import fetch, load
from rnnbench.engine import KERNELS
from rnnbench.models import build_model
from rnnbench.train.batching import length_buckets, make_batch
from rnnbench.train.evaluate import masked_nll
from rnnbench.train.step import build_optimizer, training_step

DATASETS = ("jsb", "nottingham", "musedata", "piano-midi")
BATCH, EVAL_BATCH, LEARNING_RATES = 8, 64, 10
PROTOCOL = OptimConfig()  # the paper's RMSProp, weight noise and clipping


def paper_model(cell: str) -> torch.nn.Module:
    """The cell's paper variant at its paper size (any other cell: the paper's budget)."""
    return build_model(cell, "paper", auto_hidden_size(cell, MAX_HIDDEN_SIZE))


@contextlib.contextmanager
def reference_kernels() -> Iterator[None]:
    """Models fall back to the reference per-step kernels while the registry is empty."""
    saved = dict(KERNELS)
    KERNELS.clear()
    try:
        yield
    finally:
        KERNELS.update(saved)


def random_batches(sequences: Sequence[np.ndarray], seed: int) -> list[list[int]]:
    usable = [index for index, sequence in enumerate(sequences) if len(sequence) >= 2]
    random.Random(seed).shuffle(usable)
    return [usable[start : start + BATCH] for start in range(0, len(usable), BATCH)]


def padding_fraction(sequences: Sequence[np.ndarray], batches: list[list[int]]) -> float:
    real = sum(len(sequences[i]) - 1 for batch in batches for i in batch)
    padded = sum(len(batch) * (max(len(sequences[i]) for i in batch) - 1) for batch in batches)
    return 1.0 - real / padded


def epoch_seconds(
    cell: str, sequences: Sequence[np.ndarray], batches: list[list[int]], sample: int
) -> float:
    """Mean time of `sample` random batches (after one warm-up) x batches per epoch."""
    torch.manual_seed(0)
    model = paper_model(cell).train()
    optimizer = build_optimizer(model.parameters(), PROTOCOL)
    chosen = random.Random(1).sample(batches, min(sample, len(batches)))
    times = []
    for position, indices in enumerate([chosen[0], *chosen]):
        batch = make_batch(sequences, indices)
        start = time.perf_counter()
        training_step(
            model,
            optimizer,
            batch,
            weight_noise=PROTOCOL.weight_noise,
            clip_norm=PROTOCOL.clip_norm,
        )
        if position > 0:
            times.append(time.perf_counter() - start)
    return statistics.fmean(times) * len(batches)


def eval_seconds(cell: str, sequences: Sequence[np.ndarray]) -> float:
    model = paper_model(cell).eval()
    start = time.perf_counter()
    with torch.inference_mode():
        for indices in length_buckets(sequences, EVAL_BATCH):
            batch = make_batch(sequences, indices)
            masked_nll(model(batch.inputs), batch)
    return time.perf_counter() - start


def measure(name: str, data_dir: Path, mirror: Path, cells: list[str], sample: int) -> list[Any]:
    fetch(name, data_dir=data_dir, mirror=str(mirror))
    dataset = load(name, data_dir)
    train, valid = list(dataset.train), list(dataset.valid)
    unbucketed, bucketed = random_batches(train, seed=0), length_buckets(train, BATCH)
    rows = []
    for cell in cells:
        with reference_kernels():
            before = epoch_seconds(cell, train, unbucketed, sample)
            before_eval = eval_seconds(cell, valid)
        after = epoch_seconds(cell, train, bucketed, sample)
        after_eval = eval_seconds(cell, valid)
        row = {
            "dataset": name,
            "cell": cell,
            "train_sequences": len(train),
            "batches_per_epoch": len(bucketed),
            "padding_random": round(padding_fraction(train, unbucketed), 4),
            "padding_bucketed": round(padding_fraction(train, bucketed), 4),
            "epoch_s_before": round(before, 2),
            "epoch_s_after": round(after, 2),
            "valid_s_before": round(before_eval, 2),
            "valid_s_after": round(after_eval, 2),
            "speedup": round((before + before_eval) / (after + after_eval), 2),
        }
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_mirror = os.environ.get("RNNBENCH_MIRROR", "../shared/datasets/mirror")
    parser.add_argument("--mirror", type=Path, default=Path(default_mirror))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--cells", default=",".join(paper_cells()))
    parser.add_argument("--sample", type=int, default=6, help="timed batches per epoch estimate")
    parser.add_argument("--epochs", type=float, default=60.0, help="assumed mean epochs per run")
    parser.add_argument("--workers", type=int, default=2, help="parallel single-thread runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    rows = []
    for name in args.datasets.split(","):
        rows.extend(measure(name, args.data_dir, args.mirror, args.cells.split(","), args.sample))
    per_run = {
        key: sum(row[f"epoch_s_{key}"] + row[f"valid_s_{key}"] for row in rows)
        for key in ("before", "after")
    }
    scale = args.epochs * LEARNING_RATES / args.workers / 3600
    projection = {
        "epochs_assumed": args.epochs,
        "learning_rates": LEARNING_RATES,
        "workers": args.workers,
        "protocol_hours_before": round(per_run["before"] * scale, 2),
        "protocol_hours_after": round(per_run["after"] * scale, 2),
    }
    print(json.dumps({"rows": rows, "projection": projection}, indent=1))


if __name__ == "__main__":
    main()

"""Test NLL of a trained run with the training weight noise left on, as the paper's code monitors.

    python examples/noisy_evaluation.py RUN_DIR [RUN_DIR ...] [--split test] [--draws 3]
                                        [--weights best|last]

jych/librnn evaluates its objective with the weight noise of training still applied (one draw per
sequence; docs/paper-code.md). If the paper's Table 2 was read off that monitor, its numbers carry
the noise's cost, and a run evaluated without noise (as rnnbench does) looks better than the paper
by that much. For each run (its best weights, from checkpoint.pt), this prints one JSON line: the
pooled and per-piece NLL of the split without noise, and with noise of the run's std drawn afresh
for every piece (the mean over --draws repetitions), and the differences. `--weights last` scores
the weights of the run's last epoch instead: what a 500-epoch run reports if it keeps its final
model rather than its best by validation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

from rnnbench.data import load
from rnnbench.errors import RnnbenchError
from rnnbench.train.batching import make_batch
from rnnbench.train.evaluate import masked_nll
from rnnbench.train.sample import load_trained


@torch.no_grad()
def piece_nlls(
    model: torch.nn.Module, pieces: list[np.ndarray], noise: float, seed: int
) -> list[tuple[int, float]]:
    """(frames, summed NLL) per piece, one noise draw per piece (noise 0: the clean weights)."""
    torch.manual_seed(seed)
    model.train(noise > 0)  # the model adds weight noise in training mode only
    rows = []
    for index in range(len(pieces)):
        batch = make_batch(pieces, [index])
        logits = model(batch.inputs, weight_noise=noise)  # (1, L, 88)
        rows.append((batch.frames, float(masked_nll(logits, batch)[0])))
    return rows


def averages(rows: list[tuple[int, float]]) -> tuple[float, float]:
    """(pooled, per-piece mean) NLL per frame."""
    pooled = sum(nll for _, nll in rows) / sum(frames for frames, _ in rows)
    per_piece = statistics.fmean(nll / frames for frames, nll in rows if frames)
    return pooled, per_piece


def report(run_dir: Path, split: str, draws: int, weights: str = "best") -> dict[str, object]:
    config, model = load_trained(run_dir, weights)
    pieces = load(config.data.name, config.data.data_dir).split(split)[: config.data.max_sequences]
    clean = averages(piece_nlls(model, pieces, 0.0, 0))
    noisy = [
        averages(piece_nlls(model, pieces, config.optim.weight_noise, d)) for d in range(draws)
    ]
    pooled = statistics.fmean(value[0] for value in noisy)
    per_piece = statistics.fmean(value[1] for value in noisy)
    return {
        "run": str(run_dir),
        "dataset": config.data.name,
        "cell": config.model.cell,
        "split": split,
        "weights": weights,
        "weight_noise": config.optim.weight_noise,
        "nll": round(clean[0], 4),
        "nll_seqmean": round(clean[1], 4),
        "nll_noisy": round(pooled, 4),
        "nll_seqmean_noisy": round(per_piece, 4),
        "noise_cost": round(pooled - clean[0], 4),
        "noise_cost_seqmean": round(per_piece - clean[1], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--weights", default="best", choices=("best", "last"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run_dir in args.runs:
        try:
            print(json.dumps(report(run_dir, args.split, args.draws, args.weights)), flush=True)
        except RnnbenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()

"""Gate statistics of a trained paper-variant GRU or LSTM: what a stalled run looks like inside.

    python examples/gate_statistics.py RUN_DIR [RUN_DIR ...] [--split valid] [--max-pieces N]

For each run, the best weights are run over one split with teacher forcing, and the script prints
one JSON line to stdout: per gate (LSTM i, f, o; GRU r, z) the mean and the fraction saturated
(within 0.05 of 0 or 1); the tanh stage's saturation (LSTM tanh(c), GRU candidate n; |value| >
0.95); mean |h|; how much h moves in time (the std over time steps of each unit, averaged); for the
LSTM mean |c| and the mean |peephole weight| per row (i, f, o). A hidden state pinned at ±1 that
barely moves in time carries no information about the music: the read-out can then learn only
note frequencies, the plateau seen on Piano-midi.de and MuseData.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from rnnbench.data import load
from rnnbench.errors import RnnbenchError
from rnnbench.models.paper import PaperRecurrent
from rnnbench.models.reference import gru_step, lstm_step
from rnnbench.train.sample import load_trained

SATURATED = 0.05  # a gate below this or above 1 - this counts as saturated
GATES = {"lstm": ("i", "f", "o"), "gru": ("r", "z")}


def lstm_states(layer: PaperRecurrent, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gates i, f, o, cell c, tanh(c) (as "tanh") and h of the paper LSTM for x (B, T, I); each
    (B, T, H)."""
    size = layer.hidden_size
    peephole: torch.Tensor = (
        layer.weight_peephole if layer.weight_peephole is not None else x.new_zeros(3, size)
    )  # (3, H); zeros: the cell without peepholes
    x_proj = x @ layer.weight_input + layer.bias  # (B, T, 4H)
    h = x.new_zeros(x.shape[0], size)  # (B, H)
    c = x.new_zeros(x.shape[0], size)  # (B, H)
    steps: dict[str, list[torch.Tensor]] = {name: [] for name in ("i", "f", "o", "c", "tanh", "h")}
    for t in range(x.shape[1]):
        i, f, o, c, h = lstm_step(x_proj[:, t], h, c, layer.weight_recurrent, peephole)
        for name, value in zip(steps, (i, f, o, c, torch.tanh(c), h), strict=True):
            steps[name].append(value)
    return {name: torch.stack(values, dim=1) for name, values in steps.items()}  # (B, T, H)


def gru_states(layer: PaperRecurrent, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gates r, z, candidate n (as "tanh") and h of the paper GRU, tanh(Wx + U(r*h)); (B, T, H)."""
    x_proj = x @ layer.weight_input + layer.bias  # (B, T, 3H)
    size = layer.hidden_size
    recurrent_rz = layer.weight_recurrent[:, : 2 * size]  # (H, 2H): blocks [r, z]
    recurrent_n = layer.weight_recurrent[:, 2 * size :]  # (H, H)
    h = x.new_zeros(x.shape[0], size)  # (B, H)
    steps: dict[str, list[torch.Tensor]] = {name: [] for name in ("r", "z", "tanh", "h")}
    for t in range(x.shape[1]):
        r, z, candidate, h = gru_step(x_proj[:, t], h, recurrent_rz, recurrent_n)
        for name, value in zip(steps, (r, z, candidate, h), strict=True):
            steps[name].append(value)
    return {name: torch.stack(values, dim=1) for name, values in steps.items()}  # (B, T, H)


STATES = {"lstm": lstm_states, "gru": gru_states}


def gate_statistics(
    run_dir: Path, split: str = "valid", max_pieces: int | None = None
) -> dict[str, object]:
    config, model = load_trained(run_dir)
    layer = model.recurrent
    cell = config.model.cell
    if cell not in STATES or not isinstance(layer, PaperRecurrent):
        raise RnnbenchError(f"{run_dir}: not a paper-variant GRU or LSTM run")
    dataset = load(config.data.name, config.data.data_dir)
    pieces = dataset.split(split)[: config.data.max_sequences][:max_pieces]
    pooled: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for roll in pieces:
            x = torch.from_numpy(roll[:-1]).float().unsqueeze(0)  # (1, T-1, 88): inputs 1..T-1
            states = STATES[cell](layer, x)
            states["h_time_std"] = states["h"][0].std(dim=0, correction=0)  # (H,): over time
            for name, value in states.items():
                pooled.setdefault(name, []).append(value.flatten())
    values = {name: torch.cat(parts) for name, parts in pooled.items()}
    record: dict[str, object] = {"run": str(run_dir), "cell": cell, "pieces": len(pieces)}
    for gate in GATES[cell]:
        record[f"mean_{gate}"] = round(float(values[gate].mean()), 3)
        record[f"saturated_{gate}"] = round(_saturated(values[gate]), 3)
    record["saturated_tanh"] = round(_saturated((values["tanh"] + 1) / 2), 3)  # to (0, 1)
    record["mean_abs_h"] = round(float(values["h"].abs().mean()), 3)
    record["h_time_std"] = round(float(values["h_time_std"].mean()), 3)
    if cell == "lstm":
        record["mean_abs_c"] = round(float(values["c"].abs().mean()), 2)
        peephole = layer.weight_peephole
        record["peephole_abs_mean_ifo"] = (
            None
            if peephole is None
            else [round(float(row.detach().abs().mean()), 3) for row in peephole]
        )
    return record


def _saturated(gate: torch.Tensor) -> float:
    """Fraction of values in (0, 1) within SATURATED of either end."""
    return float(((gate < SATURATED) | (gate > 1 - SATURATED)).float().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--max-pieces", type=int, default=None, help="first N pieces of the split")
    arguments = parser.parse_args()
    try:
        for run_dir in arguments.runs:
            record = gate_statistics(run_dir, arguments.split, arguments.max_pieces)
            print(json.dumps(record), flush=True)
    except RnnbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

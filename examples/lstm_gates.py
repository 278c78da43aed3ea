"""Gate statistics of a trained paper-variant LSTM: why peepholes can stall it (README, Results).

    python examples/lstm_gates.py RUN_DIR [RUN_DIR ...] [--split valid]

For each run, the best weights are run over one split with teacher forcing, and the script prints
one JSON line to stdout: the mean input, forget and output gate, the mean |c| and |h|, the fraction
of saturated gates, and the mean |peephole weight| per row (i, f, o). With |c| in the hundreds, a
peephole weight of order 1 pins its gate at 0 or 1 whatever the input; an output gate stuck at 1
leaves h = tanh(c) = ±1, a hidden state that no longer depends on the music.
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
from rnnbench.train.sample import load_trained

SATURATED = 0.05  # a gate below this or above 1 - this counts as saturated


def lstm_states(layer: PaperRecurrent, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gates i, f, o and states c, h of the paper LSTM for x (B, T, I); each (B, T, H)."""
    size = layer.hidden_size
    peephole: torch.Tensor = (
        layer.weight_peephole if layer.weight_peephole is not None else x.new_zeros(3, size)
    )  # (3, H); zeros: the cell without peepholes
    x_proj = x @ layer.weight_input + layer.bias  # (B, T, 4H)
    h = x.new_zeros(x.shape[0], size)  # (B, H)
    c = x.new_zeros(x.shape[0], size)  # (B, H)
    steps: dict[str, list[torch.Tensor]] = {name: [] for name in ("i", "f", "o", "c", "h")}
    for t in range(x.shape[1]):
        pre_i, pre_f, pre_g, pre_o = (x_proj[:, t] + h @ layer.weight_recurrent).chunk(4, dim=1)
        i = torch.sigmoid(pre_i + peephole[0] * c)
        f = torch.sigmoid(pre_f + peephole[1] * c)
        c = f * c + i * torch.tanh(pre_g)
        o = torch.sigmoid(pre_o + peephole[2] * c)
        h = o * torch.tanh(c)
        for name, value in zip("ifoch", (i, f, o, c, h), strict=True):
            steps[name].append(value)
    return {name: torch.stack(values, dim=1) for name, values in steps.items()}  # (B, T, H)


def gate_statistics(run_dir: Path, split: str = "valid") -> dict[str, object]:
    config, model = load_trained(run_dir)
    layer = model.recurrent
    if config.model.cell != "lstm" or not isinstance(layer, PaperRecurrent):
        raise RnnbenchError(f"{run_dir}: not a paper-variant LSTM run")
    dataset = load(config.data.name, config.data.data_dir)
    pooled: dict[str, list[torch.Tensor]] = {name: [] for name in "ifoch"}
    with torch.no_grad():
        for roll in dataset.split(split)[: config.data.max_sequences]:
            x = torch.from_numpy(roll[:-1]).float().unsqueeze(0)  # (1, T-1, 88): inputs 1..T-1
            for name, value in lstm_states(layer, x).items():
                pooled[name].append(value.flatten())
    values = {name: torch.cat(parts) for name, parts in pooled.items()}
    peephole = layer.weight_peephole
    gates = {name: values[name] for name in "ifo"}
    return {
        "run": str(run_dir),
        "peephole_abs_mean_ifo": None
        if peephole is None
        else [round(float(row.detach().abs().mean()), 3) for row in peephole],
        **{f"mean_{name}": round(float(gate.mean()), 3) for name, gate in gates.items()},
        **{f"saturated_{name}": round(_saturated(gate), 3) for name, gate in gates.items()},
        "mean_abs_c": round(float(values["c"].abs().mean()), 2),
        "mean_abs_h": round(float(values["h"].abs().mean()), 3),
    }


def _saturated(gate: torch.Tensor) -> float:
    return float(((gate < SATURATED) | (gate > 1 - SATURATED)).float().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    arguments = parser.parse_args()
    try:
        for run_dir in arguments.runs:
            print(json.dumps(gate_statistics(run_dir, arguments.split)), flush=True)
    except RnnbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

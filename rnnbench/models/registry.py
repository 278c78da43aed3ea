"""The cell registry: one entry per cell, read by both variants. Adding a cell = adding one entry.

`gates` is G, the number of H-wide column blocks in the paper layout (docs/architecture.md);
`peephole` says whether the paper variant holds `weight_peephole (3, H)`; `fused` names the
torch module of the fused variant (None: the cell has no fused variant).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from rnnbench.engine import Kernel
from rnnbench.errors import UnknownNameError
from rnnbench.models.reference import gru_kernel, lstm_kernel, tanh_kernel


@dataclass(frozen=True)
class CellSpec:
    name: str
    gates: int  # G: gate blocks in weight_input / weight_recurrent / bias
    peephole: bool  # LSTM-style diagonal peepholes (rows i, f, o)
    reference_kernel: Kernel  # per-step autograd kernel (the engine may register a faster one)
    fused: type[nn.RNNBase] | None  # torch module for variant "fused"


CELLS: dict[str, CellSpec] = {}


def register_cell(spec: CellSpec) -> None:
    """Add (or replace) a cell; `model.cell: <name>` in a config then picks it."""
    CELLS[spec.name] = spec


for _spec in (
    CellSpec("tanh", gates=1, peephole=False, reference_kernel=tanh_kernel, fused=nn.RNN),
    CellSpec("gru", gates=3, peephole=False, reference_kernel=gru_kernel, fused=nn.GRU),
    CellSpec("lstm", gates=4, peephole=True, reference_kernel=lstm_kernel, fused=nn.LSTM),
):
    register_cell(_spec)

VARIANTS = ("paper", "fused")
INITS = ("paper", "torch", "paper-forget1")
FORGET_GATE = 1  # LSTM gate blocks [i, f, g, o] (paper and torch layouts): f is block 1


def get_cell(name: str) -> CellSpec:
    try:
        return CELLS[name]
    except KeyError:
        raise UnknownNameError("cell", name, CELLS) from None


def check_variant(name: str) -> None:
    if name not in VARIANTS:
        raise UnknownNameError("variant", name, VARIANTS)

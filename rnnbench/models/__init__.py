"""Models: the sequence model around a registered cell (rnnbench.cells): paper, fused or plugin."""

from rnnbench.cells import CELLS, CellSpec, get_cell, register_cell
from rnnbench.models.sequence import (
    INITS,
    VARIANTS,
    SequenceModel,
    build_model,
    params_recurrent,
    params_total,
)

__all__ = [
    "CELLS",
    "INITS",
    "VARIANTS",
    "CellSpec",
    "SequenceModel",
    "build_model",
    "get_cell",
    "params_recurrent",
    "params_total",
    "register_cell",
]

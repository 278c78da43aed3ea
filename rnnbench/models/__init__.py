"""Models: the cell registry (tanh / gru / lstm x paper / fused) and the sequence model."""

from rnnbench.models.reference import REFERENCE_KERNELS
from rnnbench.models.registry import CELLS, INITS, VARIANTS, CellSpec, get_cell, register_cell
from rnnbench.models.sequence import SequenceModel, build_model, params_recurrent, params_total

__all__ = [
    "CELLS",
    "INITS",
    "REFERENCE_KERNELS",
    "VARIANTS",
    "CellSpec",
    "SequenceModel",
    "build_model",
    "get_cell",
    "params_recurrent",
    "params_total",
    "register_cell",
]

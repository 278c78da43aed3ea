"""Fast sequence kernels for the paper cells.

KERNELS maps a cell name to `kernel(x_proj, weight_recurrent, weight_peephole) -> hidden`:
    x_proj            (B, T, G*H)  input projection x @ weight_input + bias for all time steps
    weight_recurrent  (H, G*H)     recurrent matrix (gate column blocks as in docs/architecture.md)
    weight_peephole   (3, H) for lstm (rows i, f, o), None otherwise
    hidden            (B, T, H)    hidden state after each step, h_0 = 0
Each kernel is a `torch.autograd.Function` over the whole sequence: the forward loop builds no graph
and keeps gates and states in (T, B, .) buffers; the hand-written backward does only the per-step
dependent work, then the weight gradients as one big matmul. Any device; float32 and float64.
Models fall back to the reference (per-step autograd) kernels for cells missing here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rnnbench.engine.gru import gru_sequence
from rnnbench.engine.lstm import lstm_sequence
from rnnbench.engine.tanh import tanh_sequence

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]

KERNELS: dict[str, Kernel] = {
    "tanh": tanh_sequence,
    "gru": gru_sequence,
    "lstm": lstm_sequence,
}

__all__ = ["KERNELS", "Kernel", "gru_sequence", "lstm_sequence", "tanh_sequence"]

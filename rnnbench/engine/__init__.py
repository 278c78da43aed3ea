"""Fast sequence kernels for the paper cells (filled in by the performance issue).

KERNELS maps a cell name to `kernel(x_proj, weight_recurrent, weight_peephole) -> hidden`:
    x_proj            (B, T, G*H)  input projection x @ weight_input + bias for all time steps
    weight_recurrent  (H, G*H)     recurrent matrix (gate column blocks as in docs/architecture.md)
    weight_peephole   (3, H) for lstm (rows i, f, o), None otherwise
    hidden            (B, T, H)    hidden state after each step, h_0 = 0
Models fall back to the reference (per-step autograd) kernels for cells missing here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]

KERNELS: dict[str, Kernel] = {}

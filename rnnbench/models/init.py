"""Initialisation as in the paper's code: input weights U(−0.1, 0.1), recurrent matrices orthogonal
(one orthogonal H×H matrix per gate block), biases and peepholes zero."""

from __future__ import annotations

import torch

INPUT_SCALE = 0.1  # U(-0.1, 0.1) for input (and output-layer) weights
FORGET_GATE = 1  # LSTM gate blocks [i, f, g, o] (paper and torch layouts): f is block 1


def orthogonal_blocks(hidden_size: int, blocks: int) -> torch.Tensor:
    """`blocks` independent orthogonal (H, H) matrices side by side: (H, blocks*H)."""
    parts = []
    for _ in range(blocks):
        square = torch.empty(hidden_size, hidden_size)
        torch.nn.init.orthogonal_(square)
        parts.append(square)
    return torch.cat(parts, dim=1)  # (H, blocks*H)


@torch.no_grad()
def uniform_(tensor: torch.Tensor, scale: float = INPUT_SCALE) -> None:
    tensor.uniform_(-scale, scale)

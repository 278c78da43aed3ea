"""Shared helpers for the sequence kernels: time-major buffers and argument checks."""

from __future__ import annotations

import torch

from rnnbench.errors import UsageError


def time_major_copy(x_proj: torch.Tensor) -> torch.Tensor:
    """A fresh, contiguous, time-major copy of a batch-major tensor we may overwrite."""
    batch, steps, width = x_proj.shape
    buffer = x_proj.new_empty((steps, batch, width))  # (T, B, G*H)
    buffer.copy_(x_proj.transpose(0, 1))
    return buffer


def time_major(grad: torch.Tensor) -> torch.Tensor:
    """A contiguous time-major view or copy of a batch-major (B, T, H) gradient (read only)."""
    return grad.transpose(0, 1).contiguous()  # (T, B, H)


def check_shapes(
    cell: str,
    x_proj: torch.Tensor,
    weight_recurrent: torch.Tensor,
    gates: int,
) -> int:
    """Validate kernel inputs; return the hidden size H."""
    if x_proj.dim() != 3:
        raise UsageError(
            f"{cell} kernel: x_proj must be (B, T, G*H), got shape {tuple(x_proj.shape)}"
        )
    hidden_size = weight_recurrent.shape[0]
    expected = (hidden_size, gates * hidden_size)
    if tuple(weight_recurrent.shape) != expected:
        raise UsageError(
            f"{cell} kernel: weight_recurrent must be {expected}, "
            f"got {tuple(weight_recurrent.shape)}"
        )
    if x_proj.shape[2] != gates * hidden_size:
        raise UsageError(
            f"{cell} kernel: x_proj last dim must be {gates * hidden_size}, got {x_proj.shape[2]}"
        )
    if x_proj.shape[1] == 0:
        raise UsageError(f"{cell} kernel: x_proj has no time steps")
    return hidden_size

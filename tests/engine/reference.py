"""Straightforward per-step autograd versions of the paper cells, written from the equations."""

from __future__ import annotations

import torch


def tanh_reference(
    x_proj: torch.Tensor, recurrent: torch.Tensor, peephole: torch.Tensor | None
) -> torch.Tensor:
    hidden = x_proj.new_zeros((x_proj.shape[0], recurrent.shape[0]))
    outputs = []
    for step in range(x_proj.shape[1]):
        hidden = torch.tanh(x_proj[:, step] + hidden @ recurrent)
        outputs.append(hidden)
    return torch.stack(outputs, dim=1)  # (B, T, H)


def gru_reference(
    x_proj: torch.Tensor, recurrent: torch.Tensor, peephole: torch.Tensor | None
) -> torch.Tensor:
    size = recurrent.shape[0]
    u_r, u_z, u_n = recurrent[:, :size], recurrent[:, size : 2 * size], recurrent[:, 2 * size :]
    hidden = x_proj.new_zeros((x_proj.shape[0], size))
    outputs = []
    for step in range(x_proj.shape[1]):
        a_r, a_z, a_n = x_proj[:, step].split(size, dim=1)
        reset = torch.sigmoid(a_r + hidden @ u_r)
        update = torch.sigmoid(a_z + hidden @ u_z)
        candidate = torch.tanh(a_n + (reset * hidden) @ u_n)
        hidden = update * hidden + (1 - update) * candidate
        outputs.append(hidden)
    return torch.stack(outputs, dim=1)  # (B, T, H)


def lstm_reference(
    x_proj: torch.Tensor, recurrent: torch.Tensor, peephole: torch.Tensor | None
) -> torch.Tensor:
    assert peephole is not None
    size = recurrent.shape[0]
    u_i, u_f, u_g, u_o = recurrent.split(size, dim=1)
    hidden = x_proj.new_zeros((x_proj.shape[0], size))
    cell = torch.zeros_like(hidden)
    outputs = []
    for step in range(x_proj.shape[1]):
        a_i, a_f, a_g, a_o = x_proj[:, step].split(size, dim=1)
        input_gate = torch.sigmoid(a_i + hidden @ u_i + peephole[0] * cell)
        forget = torch.sigmoid(a_f + hidden @ u_f + peephole[1] * cell)
        candidate = torch.tanh(a_g + hidden @ u_g)
        cell = forget * cell + input_gate * candidate
        output = torch.sigmoid(a_o + hidden @ u_o + peephole[2] * cell)
        hidden = output * torch.tanh(cell)
        outputs.append(hidden)
    return torch.stack(outputs, dim=1)  # (B, T, H)


REFERENCES = {"tanh": tanh_reference, "gru": gru_reference, "lstm": lstm_reference}

"""Plain-torch models that `rnnbench bench` races against the suite's, with `forward(x,
weight_noise) -> logits`, for the cells that have a torch module (the registry's `fused`):

- `TorchFusedModel`: plain `nn.RNN` / `nn.GRU` / `nn.LSTM` + `nn.Linear`, as a user would write it.
- `TorchCellLoopModel`: a per-step `nn.*Cell` loop, as most reproductions write it.
Weight noise is added to the recurrent layer's input and recurrent matrices in every model, so
every implementation does the same protocol work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from rnnbench.cells import get_cell

# torch's per-step counterpart of each fused module: the cell module and its step function.
CELL_LOOPS: dict[str, tuple[Callable[..., nn.RNNCellBase], Callable[..., Any]]] = {
    "RNN": (nn.RNNCell, torch.rnn_tanh_cell),
    "GRU": (nn.GRUCell, torch.gru_cell),
    "LSTM": (nn.LSTMCell, torch.lstm_cell),
}


def noisy(weight: torch.Tensor, weight_noise: float, training: bool) -> torch.Tensor:
    """weight + N(0, weight_noise²) in training mode, the weight itself otherwise."""
    if not training or weight_noise <= 0.0:
        return weight
    return weight + weight_noise * torch.randn_like(weight)


def fused_module(cell: str) -> str:
    """The registry's torch module name for a cell ("GRU"); ValueError if it has none."""
    fused = get_cell(cell).fused
    if fused is None:
        raise ValueError(f"cell '{cell}' has no torch module")
    return fused


class TorchFusedModel(nn.Module):
    """`nn.RNN` / `nn.GRU` / `nn.LSTM` (batch first) and a linear read-out."""

    def __init__(self, cell: str, hidden_size: int, input_size: int = 88) -> None:
        super().__init__()
        module: Callable[..., nn.RNNBase] = getattr(nn, fused_module(cell))
        self.rnn = module(input_size, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, input_size)

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        if self.training and weight_noise > 0.0:
            params = {
                name: noisy(value, weight_noise, True)
                for name, value in self.rnn.named_parameters()
                if name.startswith("weight_")
            }
            hidden, _ = torch.func.functional_call(self.rnn, params, (x,))
        else:
            hidden, _ = self.rnn(x)
        logits: torch.Tensor = self.output(hidden)  # (B, T, 88)
        return logits


class TorchCellLoopModel(nn.Module):
    """A Python loop over time calling the `nn.*Cell` kernels, and a linear read-out."""

    def __init__(self, cell: str, hidden_size: int, input_size: int = 88) -> None:
        super().__init__()
        self.fused = fused_module(cell)
        cell_module, self.step_function = CELL_LOOPS[self.fused]
        self.cell = cell_module(input_size, hidden_size)
        self.output = nn.Linear(hidden_size, input_size)

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        cell = self.cell
        weight_ih = noisy(cell.weight_ih, weight_noise, self.training)
        weight_hh = noisy(cell.weight_hh, weight_noise, self.training)
        hidden = x.new_zeros((x.shape[0], cell.hidden_size))
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
        state = (hidden, hidden) if self.fused == "LSTM" else hidden
        outputs = []
        for step in range(x.shape[1]):
            state = self.step_function(
                x[:, step], state, weight_ih, weight_hh, cell.bias_ih, cell.bias_hh
            )
            outputs.append(state[0] if isinstance(state, tuple) else state)
        logits: torch.Tensor = self.output(torch.stack(outputs, dim=1))  # (B, T, 88)
        return logits

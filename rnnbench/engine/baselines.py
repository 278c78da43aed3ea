"""The sequence models that `rnnbench bench` races, all with `forward(x, weight_noise) -> logits`.

- `KernelModel`: the paper cell on the fast kernels (x_proj in one matmul, then `KERNELS[cell]`).
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

from rnnbench.engine import KERNELS

GATES = {"tanh": 1, "gru": 3, "lstm": 4}
PAPER_HIDDEN = {"tanh": 100, "gru": 46, "lstm": 36}
FUSED_LAYERS: dict[str, Callable[..., nn.RNNBase]] = {
    "tanh": nn.RNN,
    "gru": nn.GRU,
    "lstm": nn.LSTM,
}
CELL_LAYERS: dict[str, Callable[..., nn.RNNCellBase]] = {
    "tanh": nn.RNNCell,
    "gru": nn.GRUCell,
    "lstm": nn.LSTMCell,
}


def noisy(weight: torch.Tensor, weight_noise: float, training: bool) -> torch.Tensor:
    """weight + N(0, weight_noise²) in training mode, the weight itself otherwise."""
    if not training or weight_noise <= 0.0:
        return weight
    return weight + weight_noise * torch.randn_like(weight)


class KernelModel(nn.Module):
    """The paper's cell on `rnnbench.engine.KERNELS`, with a sigmoid-logit output layer."""

    def __init__(self, cell: str, hidden_size: int, input_size: int = 88) -> None:
        super().__init__()
        width = GATES[cell] * hidden_size
        self.cell = cell
        self.weight_input = nn.Parameter(torch.randn(input_size, width) * input_size**-0.5)
        self.weight_recurrent = nn.Parameter(torch.randn(hidden_size, width) * hidden_size**-0.5)
        self.bias = nn.Parameter(torch.zeros(width))
        self.weight_peephole = nn.Parameter(torch.zeros(3, hidden_size)) if cell == "lstm" else None
        self.output = nn.Linear(hidden_size, input_size)

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        batch, steps, features = x.shape
        weight_input = noisy(self.weight_input, weight_noise, self.training)
        weight_recurrent = noisy(self.weight_recurrent, weight_noise, self.training)
        x_proj = torch.addmm(self.bias, x.reshape(-1, features), weight_input)  # (B*T, G*H)
        x_proj = x_proj.view(batch, steps, -1)  # (B, T, G*H)
        hidden = KERNELS[self.cell](x_proj, weight_recurrent, self.weight_peephole)
        logits: torch.Tensor = self.output(hidden)  # (B, T, 88)
        return logits


class TorchFusedModel(nn.Module):
    """`nn.RNN` / `nn.GRU` / `nn.LSTM` (batch first) and a linear read-out."""

    def __init__(self, cell: str, hidden_size: int, input_size: int = 88) -> None:
        super().__init__()
        self.rnn = FUSED_LAYERS[cell](input_size, hidden_size, batch_first=True)
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
        self.cell_name = cell
        self.cell = CELL_LAYERS[cell](input_size, hidden_size)
        self.output = nn.Linear(hidden_size, input_size)

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        cell = self.cell
        weight_ih = noisy(cell.weight_ih, weight_noise, self.training)
        weight_hh = noisy(cell.weight_hh, weight_noise, self.training)
        step_fn: dict[str, Callable[..., Any]] = {
            "tanh": torch.rnn_tanh_cell,
            "gru": torch.gru_cell,
            "lstm": torch.lstm_cell,
        }
        function = step_fn[self.cell_name]
        hidden = x.new_zeros((x.shape[0], cell.hidden_size))
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
        state = (hidden, hidden) if self.cell_name == "lstm" else hidden
        outputs = []
        for step in range(x.shape[1]):
            state = function(x[:, step], state, weight_ih, weight_hh, cell.bias_ih, cell.bias_hh)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        logits: torch.Tensor = self.output(torch.stack(outputs, dim=1))  # (B, T, 88)
        return logits

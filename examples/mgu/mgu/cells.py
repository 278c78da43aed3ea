"""Minimal gated unit (Zhou, Wu, Zhang and Zhou 2016, "Minimal gated unit for recurrent neural
networks"): a GRU whose reset and update gates are one forget gate f.

    f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
    c_t = tanh(W_h x_t + U_h (f_t * h_{t-1}) + b_h)
    h_t = (1 - f_t) * h_{t-1} + f_t * c_t

The rnnbench cell contract (docs/cells.md): built as MGU(input_size, hidden_size); forward maps
x (B, T, I) to the hidden states (B, T, H), starting from h_0 = 0; weight noise perturbs the
parameters named in `noisy_parameters` (the input and recurrent matrices, as the paper did).
"""

from __future__ import annotations

import torch
from torch import nn


class MGU(nn.Module):
    # The matrices rnnbench perturbs with the protocol's weight noise at every update.
    noisy_parameters = ("weight_input", "weight_recurrent")

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        # Column blocks [f, h]: both gates' input projections in one matmul for all steps.
        self.weight_input = nn.Parameter(torch.empty(input_size, 2 * hidden_size))
        self.weight_recurrent = nn.Parameter(torch.empty(hidden_size, 2 * hidden_size))
        self.bias = nn.Parameter(torch.zeros(2 * hidden_size))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The paper's scheme: inputs U(-0.1, 0.1), one orthogonal matrix per block, zero bias."""
        nn.init.uniform_(self.weight_input, -0.1, 0.1)
        for block in self.weight_recurrent.split(self.hidden_size, dim=1):
            nn.init.orthogonal_(block)
        self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = x.shape
        projected = (x @ self.weight_input + self.bias).unbind(dim=1)  # T x (B, 2H)
        u_f, u_h = self.weight_recurrent.split(self.hidden_size, dim=1)  # 2 x (H, H)
        h = x.new_zeros(batch, self.hidden_size)  # (B, H)
        states = []
        for t in range(steps):
            x_f, x_h = projected[t].chunk(2, dim=1)  # 2 x (B, H)
            f = torch.sigmoid(x_f + h @ u_f)
            candidate = torch.tanh(x_h + (f * h) @ u_h)
            h = (1 - f) * h + f * candidate
            states.append(h)
        return torch.stack(states, dim=1)  # (B, T, H)

"""The fused variant: torch's nn.RNN / nn.GRU / nn.LSTM (cuDNN on GPU, oneDNN LSTM on CPU).

Their equations differ from the paper's: the GRU applies the reset gate after the recurrent matmul,
the LSTM has no peepholes, and every cell carries two bias vectors (bias_ih, bias_hh).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from rnnbench.cells import CellSpec
from rnnbench.models.init import FORGET_GATE, orthogonal_blocks, uniform_

NOISY = ("weight_ih_l0", "weight_hh_l0")  # the input and recurrent matrices: the only noisy weights


class FusedRecurrent(nn.Module):
    """x (B, T, I) -> hidden (B, T, H) through one single-layer torch RNN module."""

    def __init__(
        self, spec: CellSpec, input_size: int, hidden_size: int, init: str = "paper"
    ) -> None:
        super().__init__()
        if spec.fused is None:
            raise ValueError(f"cell '{spec.name}' has no fused variant")
        self.spec = spec
        self.hidden_size = hidden_size
        module: Callable[..., nn.RNNBase] = getattr(nn, spec.fused)
        self.rnn = module(input_size, hidden_size, batch_first=True)
        self.reset_parameters(init)

    def weight(self, name: str) -> torch.Tensor:
        """A parameter of the torch module: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0."""
        parameter: torch.Tensor = getattr(self.rnn, name)
        return parameter

    @torch.no_grad()
    def reset_parameters(self, init: str) -> None:
        if init.startswith("paper"):
            uniform_(self.weight("weight_ih_l0"))
            recurrent = orthogonal_blocks(self.hidden_size, self.spec.gates)  # (H, G*H)
            self.weight("weight_hh_l0").copy_(
                recurrent.T
            )  # torch layout (G*H, H): gate blocks on rows
            self.weight("bias_ih_l0").zero_()
            self.weight("bias_hh_l0").zero_()
            if init == "paper-forget1":  # torch adds both biases: one of them carries the 1
                size = self.hidden_size
                self.weight("bias_ih_l0")[FORGET_GATE * size : (FORGET_GATE + 1) * size] = 1.0
        else:
            for parameter in self.rnn.parameters():
                uniform_(parameter, 1 / math.sqrt(self.hidden_size))

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        if self.training and weight_noise > 0:
            # Perturbed copies replace the two matrices for this call only; their gradients flow
            # back to the clean parameters through the addition.
            noisy = {
                name: self.weight(name) + weight_noise * torch.randn_like(self.weight(name))
                for name in NOISY
            }
            output = functional_call(self.rnn, noisy, (x,), strict=False)
        else:
            output = self.rnn(x)
        hidden: torch.Tensor = output[0]
        return hidden  # (B, T, H)

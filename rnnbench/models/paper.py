"""The paper variant: the paper's equations, one bias per gate, engine or reference kernels."""

from __future__ import annotations

import importlib
import math

import torch
from torch import nn

from rnnbench.cells import CellSpec
from rnnbench.engine import Kernel
from rnnbench.models.init import FORGET_GATE, orthogonal_blocks, uniform_


def reference_kernel(spec: CellSpec) -> Kernel:
    """The cell's per-step reference kernel, imported from the registry's `module:function`."""
    if spec.kernel is None:
        raise ValueError(f"cell '{spec.name}' has no paper-variant kernel")
    module_name, _, function = spec.kernel.partition(":")
    kernel: Kernel = getattr(importlib.import_module(module_name), function)
    return kernel


def lookup_kernel(spec: CellSpec) -> Kernel:
    """The engine's fast kernel for this cell if it registered one, else the reference kernel."""
    from rnnbench.engine import KERNELS

    return KERNELS.get(spec.name) or reference_kernel(spec)


class PaperRecurrent(nn.Module):
    """x (B, T, I) -> hidden (B, T, H); parameters in the layout of docs/architecture.md."""

    def __init__(
        self,
        spec: CellSpec,
        input_size: int,
        hidden_size: int,
        init: str = "paper",
        peepholes: bool = True,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.hidden_size = hidden_size
        width = spec.gates * hidden_size
        self.weight_input = nn.Parameter(torch.empty(input_size, width))
        self.weight_recurrent = nn.Parameter(torch.empty(hidden_size, width))
        self.bias = nn.Parameter(torch.zeros(width))
        with_peepholes = spec.peephole and peepholes  # peepholes=False: the cell without them
        self.weight_peephole = nn.Parameter(torch.zeros(3, hidden_size)) if with_peepholes else None
        self.reset_parameters(init)

    @torch.no_grad()
    def reset_parameters(self, init: str) -> None:
        if init.startswith("paper"):
            uniform_(self.weight_input)
            self.weight_recurrent.copy_(orthogonal_blocks(self.hidden_size, self.spec.gates))
            self.bias.zero_()
            if self.weight_peephole is not None:
                self.weight_peephole.zero_()
            if init == "paper-forget1":
                size = self.hidden_size
                self.bias[FORGET_GATE * size : (FORGET_GATE + 1) * size] = 1.0
        else:  # "torch": U(-1/sqrt(H), 1/sqrt(H)) everywhere, as torch's own RNN modules
            for parameter in self.parameters():
                uniform_(parameter, 1 / math.sqrt(self.hidden_size))

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        weight_input: torch.Tensor = self.weight_input
        weight_recurrent: torch.Tensor = self.weight_recurrent
        if self.training and weight_noise > 0:
            # Fresh noise each call; the sum's gradient flows unchanged to the clean weights.
            weight_input = weight_input + weight_noise * torch.randn_like(weight_input)
            weight_recurrent = weight_recurrent + weight_noise * torch.randn_like(weight_recurrent)
        x_proj = torch.addmm(self.bias, x.flatten(0, 1), weight_input)  # (B*T, G*H)
        x_proj = x_proj.view(x.shape[0], x.shape[1], -1)  # (B, T, G*H)
        kernel = lookup_kernel(self.spec)
        hidden: torch.Tensor = kernel(x_proj, weight_recurrent, self.weight_peephole)
        return hidden  # (B, T, H)

"""The sequence model: one recurrent layer and a read-out to 88 logits (independent Bernoulli)."""

from __future__ import annotations

import torch
from torch import nn

from rnnbench.cells import get_cell
from rnnbench.errors import UnknownNameError
from rnnbench.models.fused import FusedRecurrent
from rnnbench.models.init import uniform_
from rnnbench.models.paper import PaperRecurrent
from rnnbench.models.plugins import PluginRecurrent

VARIANTS = ("paper", "fused")
INITS = ("paper", "torch", "paper-forget1")


class SequenceModel(nn.Module):
    """Frames x (B, T, 88) -> logits (B, T, 88) of frames 2..T+1."""

    def __init__(self, recurrent: nn.Module, hidden_size: int, input_size: int, init: str) -> None:
        super().__init__()
        self.recurrent = recurrent
        self.output = nn.Linear(hidden_size, input_size)
        if init.startswith("paper"):
            with torch.no_grad():
                uniform_(self.output.weight)
                self.output.bias.zero_()

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        """Weight noise (std `weight_noise`) perturbs the recurrent matrices in training only."""
        hidden = self.recurrent(x, weight_noise)  # (B, T, H)
        logits: torch.Tensor = self.output(hidden)  # (B, T, 88)
        return logits


def build_model(
    cell: str,
    variant: str,
    hidden_size: int,
    input_size: int = 88,
    *,
    init: str = "paper",
    peepholes: bool = True,
) -> SequenceModel:
    """Build a model from registry names; uses torch's global RNG for the initial weights.

    `peepholes=False` drops a paper-variant cell's peepholes (the fused variant has none).
    A plugin cell (rnnbench.cells) has the paper variant only: the module it defines."""
    spec = get_cell(cell)
    if variant not in VARIANTS:
        raise UnknownNameError("variant", variant, VARIANTS)
    if init not in INITS:
        raise ValueError(f"unknown init '{init}' (known: {', '.join(INITS)})")
    if not peepholes and (variant != "paper" or not spec.peephole):
        raise ValueError("peepholes=False needs the paper variant of a cell with peepholes")
    if variant == "fused" and spec.fused is None:
        raise ValueError(f"cell '{spec.name}' has no fused variant")
    recurrent: nn.Module
    if spec.plugin is not None:
        recurrent = PluginRecurrent(spec, input_size, hidden_size, init)
    elif variant == "paper":
        recurrent = PaperRecurrent(spec, input_size, hidden_size, init, peepholes)
    else:
        recurrent = FusedRecurrent(spec, input_size, hidden_size, init)
    return SequenceModel(recurrent, hidden_size, input_size, init)


def params_recurrent(model: SequenceModel) -> int:
    """Parameters of the recurrent layer as it really is (the paper's count)."""
    return sum(parameter.numel() for parameter in model.recurrent.parameters())


def params_total(model: SequenceModel) -> int:
    """Recurrent layer plus the output layer (H*88 + 88)."""
    return sum(parameter.numel() for parameter in model.parameters())

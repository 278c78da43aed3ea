"""The training step of the protocol, written once: the trainer, `rnnbench bench` and benchmarks/
all call `training_step`, with an optimizer from `build_optimizer`.

One step: forward with fresh weight noise, the masked NLL per predicted frame, backward, the
global gradient norm clipped, an optimizer update. A non-finite loss stops before backward and a
non-finite gradient norm before the update, so a diverging run leaves its weights as they were.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from rnnbench.config import OptimConfig
from rnnbench.train.batching import Batch
from rnnbench.train.evaluate import training_loss
from rnnbench.train.optimizers import LibrnnRMSProp


@dataclass(frozen=True)
class StepResult:
    loss: float  # the batch's loss before the update (train.loss_average: per frame or piece)
    grad_norm: float  # global gradient norm before clipping; NaN when the loss was not finite

    @property
    def finite(self) -> bool:
        return math.isfinite(self.loss) and math.isfinite(self.grad_norm)


def build_optimizer(
    parameters: Iterable[nn.Parameter], optim: OptimConfig
) -> torch.optim.Optimizer:
    """The update rule optim.rule names (train/optimizers.py), at the schedule's first rate."""
    optimizer: torch.optim.Optimizer
    if optim.rule == "librnn":
        optimizer = LibrnnRMSProp(
            parameters, lr=optim.lr, alpha=optim.rmsprop_decay, update_clip=optim.clip_norm
        )
    else:
        # foreach: one multi-tensor kernel per operation instead of one per parameter; the same
        # numbers bit for bit (tested), ~10% of an update less at batch size 1 on CPU.
        optimizer = torch.optim.RMSprop(
            parameters, lr=optim.lr, alpha=optim.rmsprop_decay, eps=optim.rmsprop_eps, foreach=True
        )
    if optim.lr_schedule != "constant":
        for group in optimizer.param_groups:
            group["initial_lr"] = optim.lr  # the base rate; group["lr"] follows the schedule
    return optimizer


def training_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    *,
    weight_noise: float,
    clip_norm: float | None,
    loss_average: str = "frame",
) -> StepResult:
    """Forward (noisy), loss, backward, clip, update; no update when anything is not finite.
    `clip_norm` bounds the gradient norm (None: no bound, as under the librnn rule, which clips
    its update instead); `loss_average` is train.loss_average."""
    optimizer.zero_grad(set_to_none=True)
    logits = model(batch.inputs, weight_noise=weight_noise)  # (B, L, 88)
    loss = training_loss(logits, batch, loss_average)
    value = loss.item()
    if not math.isfinite(value):
        return StepResult(value, math.nan)
    loss.backward()  # type: ignore[no-untyped-call]
    max_norm = clip_norm if clip_norm is not None else math.inf
    grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), max_norm))
    if math.isfinite(grad_norm):
        optimizer.step()
    return StepResult(value, grad_norm)

"""Update rules (optim.rule) and the learning-rate schedule (optim.lr_schedule) of a config.

rmsprop: torch's RMSprop; the trainer clips the gradient norm first (the paper's text).
librnn:  the rule of the paper's published code (jych/librnn `learning_rule.py`, see
         docs/paper-code.md), for every parameter p with gradient g:

             ms  = decay * ms + (1 - decay) * g**2        running mean square
             rms = max(sqrt(ms), rms_floor)               floored, not an epsilon
             v   = momentum * v - lr * g / rms            classical momentum
             p  += v * min(1, clip / ||v||)               the update is clipped, v is kept

         where ||v|| is the norm over all parameters together. No gradient clipping.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from rnnbench.config import Config, OptimConfig

LIBRNN_MOMENTUM = 0.9
LIBRNN_RMS_FLOOR = 1e-2
LINEAR_DECAY_FACTOR = 0.01  # librnn's LinearDecayOverEpoch: lr/100 at the last epoch


class LibrnnRMSProp(torch.optim.Optimizer):
    """RMSProp with momentum, a floored RMS and a clipped update (module docstring)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        *,
        lr: float,
        alpha: float,
        momentum: float = LIBRNN_MOMENTUM,
        rms_floor: float = LIBRNN_RMS_FLOOR,
        update_clip: float | None = 1.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "momentum": momentum,
            "rms_floor": rms_floor,
            "update_clip": update_clip,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            velocities = [self._velocity(p, group) for p in group["params"] if p.grad is not None]
            if not velocities:
                continue
            norm = torch.linalg.vector_norm(torch.stack([v.norm() for v in velocities]))
            clip = group["update_clip"]
            scale = 1.0 if clip is None else min(1.0, clip / max(float(norm), 1e-12))
            for parameter, velocity in zip(
                (p for p in group["params"] if p.grad is not None), velocities, strict=True
            ):
                parameter.add_(velocity, alpha=scale)

    def _velocity(self, parameter: torch.Tensor, group: dict[str, object]) -> torch.Tensor:
        """Update the parameter's running mean square and velocity; returns the velocity."""
        grad = parameter.grad
        assert grad is not None
        state = self.state[parameter]
        if not state:
            state["mean_square"] = torch.zeros_like(parameter)
            state["velocity"] = torch.zeros_like(parameter)
        alpha = float(group["alpha"])  # type: ignore[arg-type]
        mean_square: torch.Tensor = state["mean_square"]
        mean_square.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        rms = mean_square.sqrt().clamp_(min=float(group["rms_floor"]))  # type: ignore[arg-type]
        velocity: torch.Tensor = state["velocity"]
        velocity.mul_(float(group["momentum"])).addcdiv_(  # type: ignore[arg-type]
            grad,
            rms,
            value=-float(group["lr"]),  # type: ignore[arg-type]
        )
        return velocity


def gradient_clip(optim: OptimConfig) -> float | None:
    """The gradient-norm bound applied after backward: none under librnn, which clips the
    update instead."""
    return None if optim.rule == "librnn" else optim.clip_norm


def epoch_lr(config: Config, epoch: int) -> float:
    """The learning rate of epoch `epoch` (1-based) under optim.lr_schedule."""
    lr = config.optim.lr
    if config.optim.lr_schedule == "constant":
        return lr
    last = config.train.max_epochs
    progress = 0.0 if last <= 1 else min(epoch - 1, last - 1) / (last - 1)
    return lr * (1.0 - (1.0 - LINEAR_DECAY_FACTOR) * progress)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr

"""tanh-RNN over a whole sequence with a hand-written backward: h' = tanh(a_t + h U)."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd import Function

from rnnbench.engine._steps import check_shapes, time_major
from rnnbench.engine.native import use_native


class TanhSequence(Function):
    """Forward stores all hidden states; backward does two ops per step and one big matmul."""

    @staticmethod
    def forward(ctx: Any, x_proj: torch.Tensor, weight_recurrent: torch.Tensor) -> torch.Tensor:
        steps, batch = x_proj.shape[1], x_proj.shape[0]
        hidden_size = weight_recurrent.shape[0]
        states = x_proj.new_empty((steps + 1, batch, hidden_size))  # (T+1, B, H), states[0] = h_0
        states[0].zero_()
        compiled = use_native(x_proj, weight_recurrent)
        if compiled is not None:
            compiled.tanh_forward(x_proj.contiguous(), weight_recurrent.contiguous(), states)
        else:
            _forward_loop(x_proj, weight_recurrent, states)
        ctx.compiled = compiled
        ctx.save_for_backward(states, weight_recurrent)
        return states[1:].transpose(0, 1)  # (B, T, H)

    @staticmethod
    def backward(ctx: Any, grad_hidden: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        states, weight_recurrent = ctx.saved_tensors
        hidden = states[1:]  # (T, B, H)
        grad_steps = time_major(grad_hidden)  # (T, B, H)
        grad_pre = torch.empty_like(hidden)  # d loss / d a_t, (T, B, H)
        if ctx.compiled is not None:
            ctx.compiled.tanh_backward(states, grad_steps, weight_recurrent.contiguous(), grad_pre)
        else:
            _backward_loop(hidden, grad_steps, weight_recurrent, grad_pre)
        grad_recurrent = None
        if ctx.needs_input_grad[1]:
            hidden_size = hidden.shape[2]
            previous = states[:-1].reshape(-1, hidden_size)  # (T*B, H)
            grad_recurrent = previous.t().mm(grad_pre.view(-1, hidden_size))  # (H, H)
        grad_x = grad_pre.transpose(0, 1) if ctx.needs_input_grad[0] else None  # (B, T, H)
        return grad_x, grad_recurrent


def _forward_loop(
    x_proj: torch.Tensor, weight_recurrent: torch.Tensor, states: torch.Tensor
) -> None:
    """The pure-torch forward recurrence (any device): 2 ops per step; fills states[1:]."""
    states[1:].copy_(x_proj.transpose(0, 1))  # pre-activations a_t, overwritten step by step
    state_steps = states.unbind(0)
    torch.tanh(state_steps[1], out=state_steps[1])
    for step in range(2, len(state_steps)):
        state_steps[step].addmm_(state_steps[step - 1], weight_recurrent).tanh_()


def _backward_loop(
    hidden: torch.Tensor,
    grad_steps: torch.Tensor,
    weight_recurrent: torch.Tensor,
    grad_pre: torch.Tensor,
) -> None:
    """The pure-torch backward recurrence (any device): 2 ops per step; fills grad_pre (T, B, H)."""
    derivative = torch.mul(hidden, hidden).neg_().add_(1.0)  # 1 - h^2, (T, B, H)
    grad_pre_steps = grad_pre.unbind(0)
    grad_in = grad_steps.unbind(0)
    derivative_steps = derivative.unbind(0)
    recurrent_t = weight_recurrent.t()
    last = len(grad_pre_steps) - 1
    torch.mul(grad_in[last], derivative_steps[last], out=grad_pre_steps[last])
    for step in range(last - 1, -1, -1):
        torch.addmm(
            grad_in[step], grad_pre_steps[step + 1], recurrent_t, out=grad_pre_steps[step]
        ).mul_(derivative_steps[step])


def tanh_sequence(
    x_proj: torch.Tensor,
    weight_recurrent: torch.Tensor,
    weight_peephole: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the paper's tanh-RNN over (B, T, H) pre-activations; returns hidden states (B, T, H)."""
    check_shapes("tanh", x_proj, weight_recurrent, gates=1)
    return TanhSequence.apply(x_proj, weight_recurrent)  # type: ignore[no-untyped-call,no-any-return]

"""GRU (paper variant: reset before the recurrent matmul) over a whole sequence.

r = σ(a_r + h U_r), z = σ(a_z + h U_z), n = tanh(a_n + (r ⊙ h) U_n), h' = z ⊙ h + (1 − z) ⊙ n.
On the CPU the loops are compiled (csrc/gru.cpp); elsewhere, pure torch: forward 5 ops per step,
backward 6. Either way the weight gradient is two big matmuls after the loop.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd import Function

from rnnbench.engine._steps import check_shapes, time_major, time_major_copy
from rnnbench.engine.native import use_native


class GruSequence(Function):
    @staticmethod
    def forward(ctx: Any, x_proj: torch.Tensor, weight_recurrent: torch.Tensor) -> torch.Tensor:
        size = weight_recurrent.shape[0]
        batch, steps = x_proj.shape[0], x_proj.shape[1]
        states = x_proj.new_zeros((steps + 1, batch, size))  # (T+1, B, H), states[0] = h_0
        reset_hidden = x_proj.new_empty((steps, batch, size))  # r ⊙ h_prev, (T, B, H)
        state_minus_new = x_proj.new_empty((steps, batch, size))  # h_prev - n, (T, B, H)
        recurrent_rz = weight_recurrent[:, : 2 * size].contiguous()  # (H, 2H)
        recurrent_n = weight_recurrent[:, 2 * size :].contiguous()  # (H, H)
        compiled = use_native(x_proj, weight_recurrent)
        if compiled is not None:
            gates = x_proj.new_empty((steps, batch, 3 * size))  # (T, B, 3H): r, z, n
            compiled.gru_forward(
                x_proj.contiguous(), recurrent_rz, recurrent_n,
                gates, states, reset_hidden, state_minus_new,
            )  # fmt: skip
        else:
            gates = time_major_copy(x_proj)  # (T, B, 3H): a_t, overwritten by r, z, n
            _forward_loop(
                gates, recurrent_rz, recurrent_n,
                states=states, reset_hidden=reset_hidden, state_minus_new=state_minus_new,
            )  # fmt: skip
        ctx.compiled = compiled
        ctx.save_for_backward(gates, states, reset_hidden, state_minus_new, weight_recurrent)
        return states[1:].transpose(0, 1)  # (B, T, H)

    @staticmethod
    def backward(ctx: Any, grad_hidden: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        gates, states, reset_hidden, state_minus_new, weight_recurrent = ctx.saved_tensors
        size = weight_recurrent.shape[0]
        grad_steps = time_major(grad_hidden)  # (T, B, H)
        grad_pre = torch.empty_like(gates)  # (T, B, 3H): d a_r, d a_z, d a_n
        if ctx.compiled is not None:
            ctx.compiled.gru_backward(
                gates, states, state_minus_new, grad_steps,
                weight_recurrent[:, : 2 * size].contiguous(),
                weight_recurrent[:, 2 * size :].contiguous(), grad_pre,
            )  # fmt: skip
        else:
            _backward_loop(
                gates, states, state_minus_new,
                grad_steps=grad_steps, weight_recurrent=weight_recurrent, grad_pre=grad_pre,
            )  # fmt: skip
        grad_recurrent = None
        if ctx.needs_input_grad[1]:
            grad_recurrent = _recurrent_grad(states[:-1], reset_hidden, grad_pre, size)
        grad_x = grad_pre.transpose(0, 1) if ctx.needs_input_grad[0] else None  # (B, T, 3H)
        return grad_x, grad_recurrent


def _forward_loop(
    gates: torch.Tensor,
    recurrent_rz: torch.Tensor,
    recurrent_n: torch.Tensor,
    *,
    states: torch.Tensor,
    reset_hidden: torch.Tensor,
    state_minus_new: torch.Tensor,
) -> None:
    """The pure-torch forward recurrence (any device): 5 ops per step, in place on gates."""
    size = recurrent_n.shape[0]
    rz_steps = gates[:, :, : 2 * size].unbind(0)
    r_steps = gates[:, :, :size].unbind(0)
    z_steps = gates[:, :, size : 2 * size].unbind(0)
    n_steps = gates[:, :, 2 * size :].unbind(0)
    state_steps = states.unbind(0)
    reset_steps = reset_hidden.unbind(0)
    diff_steps = state_minus_new.unbind(0)
    for step in range(gates.shape[0]):
        previous = state_steps[step]
        rz_steps[step].addmm_(previous, recurrent_rz).sigmoid_()
        torch.mul(r_steps[step], previous, out=reset_steps[step])
        n_steps[step].addmm_(reset_steps[step], recurrent_n).tanh_()
        torch.sub(previous, n_steps[step], out=diff_steps[step])
        torch.addcmul(n_steps[step], z_steps[step], diff_steps[step], out=state_steps[step + 1])


def _backward_loop(
    gates: torch.Tensor,
    states: torch.Tensor,
    state_minus_new: torch.Tensor,
    *,
    grad_steps: torch.Tensor,
    weight_recurrent: torch.Tensor,
    grad_pre: torch.Tensor,
) -> None:
    """The pure-torch backward recurrence (any device): fills grad_pre (T, B, 3H)."""
    steps, batch, width = gates.shape
    size = width // 3
    reset, update, new = (
        gates[:, :, :size],
        gates[:, :, size : 2 * size],
        gates[:, :, 2 * size :],
    )
    previous = states[:-1]  # (T, B, H)
    # Per-step coefficients, computed for all steps at once:
    # d a_z = dh ⊙ (h_prev − n) z (1 − z); d a_n = dh ⊙ (1 − z)(1 − n²);
    # d a_r = d(rh) ⊙ h_prev r (1 − r)
    one_minus_update = torch.neg(update).add_(1.0)
    coef_zn = gates.new_empty((steps, batch, 2, size))  # (T, B, 2, H): rows z, n
    torch.mul(update, one_minus_update, out=coef_zn[:, :, 0]).mul_(state_minus_new)
    torch.mul(new, new, out=coef_zn[:, :, 1]).neg_().add_(1.0).mul_(one_minus_update)
    coef_r = torch.neg(reset).add_(1.0).mul_(reset).mul_(previous)  # (T, B, H)
    grad_rz_steps = grad_pre[:, :, : 2 * size].unbind(0)
    grad_r_steps = grad_pre[:, :, :size].unbind(0)
    grad_zn_steps = grad_pre[:, :, size:].view(steps, batch, 2, size).unbind(0)
    grad_n_steps = grad_pre[:, :, 2 * size :].unbind(0)
    coef_zn_steps, coef_r_steps = coef_zn.unbind(0), coef_r.unbind(0)
    reset_steps, update_steps = reset.unbind(0), update.unbind(0)
    grad_in = grad_steps.unbind(0)
    recurrent_rz_t = weight_recurrent[:, : 2 * size].t()  # (2H, H)
    recurrent_n_t = weight_recurrent[:, 2 * size :].t()  # (H, H)
    grad_state = grad_in[steps - 1]
    grad_reset_hidden = gates.new_empty((batch, size))  # d (r ⊙ h_prev), (B, H)
    buffers = (gates.new_empty((batch, size)), gates.new_empty((batch, size)))
    for step in range(steps - 1, -1, -1):
        torch.mul(grad_state.unsqueeze(1), coef_zn_steps[step], out=grad_zn_steps[step])
        torch.mm(grad_n_steps[step], recurrent_n_t, out=grad_reset_hidden)
        torch.mul(grad_reset_hidden, coef_r_steps[step], out=grad_r_steps[step])
        if step == 0:
            break
        carry = buffers[step % 2]
        torch.addcmul(grad_in[step - 1], grad_state, update_steps[step], out=carry)
        carry.addcmul_(grad_reset_hidden, reset_steps[step])
        grad_state = carry.addmm_(grad_rz_steps[step], recurrent_rz_t)


def _recurrent_grad(
    previous: torch.Tensor, reset_hidden: torch.Tensor, grad_pre: torch.Tensor, size: int
) -> torch.Tensor:
    """dU = [H_prev^T d a_rz, (R ⊙ H_prev)^T d a_n] as two big matmuls, (H, 3H)."""
    flat_grad = grad_pre.view(-1, 3 * size)  # (T*B, 3H)
    grad_rz = previous.reshape(-1, size).t().mm(flat_grad[:, : 2 * size])  # (H, 2H)
    grad_n = reset_hidden.view(-1, size).t().mm(flat_grad[:, 2 * size :])  # (H, H)
    return torch.cat([grad_rz, grad_n], dim=1)


def gru_sequence(
    x_proj: torch.Tensor,
    weight_recurrent: torch.Tensor,
    weight_peephole: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the paper's GRU over (B, T, 3H) pre-activations; returns hidden states (B, T, H)."""
    check_shapes("gru", x_proj, weight_recurrent, gates=3)
    return GruSequence.apply(x_proj, weight_recurrent)  # type: ignore[no-untyped-call,no-any-return]

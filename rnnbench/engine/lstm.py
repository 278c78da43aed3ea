"""LSTM with peepholes (Graves 2013, the paper's variant) over a whole sequence.

i = σ(a_i + h U_i + p_i ⊙ c), f = σ(a_f + h U_f + p_f ⊙ c), g = tanh(a_g + h U_g),
c' = f ⊙ c + i ⊙ g, o = σ(a_o + h U_o + p_o ⊙ c'), h' = o ⊙ tanh(c').
Forward: 10 ops per step. Backward: 5 ops per step (the cell-state path is folded into
per-step coefficients computed for all steps at once); weight gradients after the loop.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd import Function

from rnnbench.engine._steps import check_shapes, time_major, time_major_copy
from rnnbench.engine.native import use_native
from rnnbench.errors import UsageError


class LstmSequence(Function):
    @staticmethod
    def forward(
        ctx: Any,
        x_proj: torch.Tensor,
        weight_recurrent: torch.Tensor,
        weight_peephole: torch.Tensor,
    ) -> torch.Tensor:
        size = weight_recurrent.shape[0]
        batch, steps = x_proj.shape[0], x_proj.shape[1]
        states = x_proj.new_empty((steps + 1, batch, size))  # (T+1, B, H) hidden, states[0] = h_0
        cells = x_proj.new_empty((steps + 1, batch, size))  # (T+1, B, H) cell, cells[0] = c_0
        states[0].zero_()
        cells[0].zero_()
        tanh_cells = x_proj.new_empty((steps, batch, size))  # tanh(c_t), (T, B, H)
        compiled = use_native(x_proj, weight_recurrent, weight_peephole)
        if compiled is not None:
            gates = x_proj.new_empty((steps, 4, batch, size))  # (T, 4, B, H): i, f, g, o
            compiled.lstm_forward(
                x_proj.contiguous(),
                gates,
                weight_recurrent.contiguous(),
                weight_peephole.contiguous(),
                states,
                cells,
                tanh_cells,
            )
        else:
            gates = time_major_copy(x_proj)  # (T, B, 4H): a_t, overwritten by i, f, g, o
            _forward_loop(
                gates,
                weight_recurrent,
                weight_peephole,
                states=states,
                cells=cells,
                tanh_cells=tanh_cells,
            )
        ctx.compiled = compiled  # the saved gate layout depends on the path taken
        ctx.save_for_backward(gates, states, cells, tanh_cells, weight_recurrent, weight_peephole)
        return states[1:].transpose(0, 1)  # (B, T, H)

    @staticmethod
    def backward(ctx: Any, grad_hidden: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        gates, states, cells, tanh_cells, weight_recurrent, weight_peephole = ctx.saved_tensors
        size = weight_recurrent.shape[0]
        grad_steps = time_major(grad_hidden)  # (T, B, H)
        compiled = ctx.compiled
        if compiled is not None:
            batch, steps = grad_hidden.shape[0], grad_hidden.shape[1]
            grad_pre = gates.new_empty((batch, steps, 4 * size))  # (B, T, 4H), batch-major
            grad_peephole = weight_peephole.new_zeros((3, size))  # (3, H)
            compiled.lstm_backward(
                gates,
                cells,
                tanh_cells,
                grad_steps,
                weight_recurrent.contiguous(),
                weight_peephole.contiguous(),
                grad_pre,
                grad_peephole,
            )
        else:
            grad_pre = _backward_loop(
                gates,
                cells=cells,
                tanh_cells=tanh_cells,
                grad_steps=grad_steps,
                weight_recurrent=weight_recurrent,
                weight_peephole=weight_peephole,
            )
            grad_peephole = None
            grad_pre = grad_pre.transpose(0, 1)  # (B, T, 4H) view of the time-major buffer
        needs = ctx.needs_input_grad
        return _input_grads(
            needs, grad_pre, states=states, cells=cells, size=size, grad_peephole=grad_peephole
        )


def _forward_loop(
    gates: torch.Tensor,
    weight_recurrent: torch.Tensor,
    weight_peephole: torch.Tensor,
    *,
    states: torch.Tensor,
    cells: torch.Tensor,
    tanh_cells: torch.Tensor,
) -> None:
    """The pure-torch forward recurrence (any device): 10 ops per step."""
    steps, batch, width = gates.shape
    size = width // 4
    peephole_if = weight_peephole[:2]  # (2, H)
    peephole_o = weight_peephole[2]  # (H,)
    gate_steps = gates.unbind(0)
    if_steps = gates[:, :, : 2 * size].view(steps, batch, 2, size).unbind(0)
    i_steps, f_steps = gates[:, :, :size].unbind(0), gates[:, :, size : 2 * size].unbind(0)
    g_steps = gates[:, :, 2 * size : 3 * size].unbind(0)
    o_steps = gates[:, :, 3 * size :].unbind(0)
    state_steps, cell_steps = states.unbind(0), cells.unbind(0)
    cell_rows = cells.unsqueeze(2).unbind(0)  # each (B, 1, H) for the i, f peepholes
    tanh_steps = tanh_cells.unbind(0)
    for step in range(steps):
        gate_steps[step].addmm_(state_steps[step], weight_recurrent)
        if_steps[step].addcmul_(cell_rows[step], peephole_if).sigmoid_()
        g_steps[step].tanh_()
        cell = cell_steps[step + 1]
        torch.mul(f_steps[step], cell_steps[step], out=cell).addcmul_(i_steps[step], g_steps[step])
        o_steps[step].addcmul_(cell, peephole_o).sigmoid_()
        torch.mul(o_steps[step], torch.tanh(cell, out=tanh_steps[step]), out=state_steps[step + 1])


def _backward_loop(
    gates: torch.Tensor,
    *,
    cells: torch.Tensor,
    tanh_cells: torch.Tensor,
    grad_steps: torch.Tensor,
    weight_recurrent: torch.Tensor,
    weight_peephole: torch.Tensor,
) -> torch.Tensor:
    """The pure-torch backward recurrence (any device): 5 ops per step; returns d a (T, B, 4H)."""
    steps, batch, width = gates.shape
    size = width // 4
    coefs = _coefficients(gates, cells, tanh_cells, weight_peephole)
    coef_ifg, coef_o, coef_cell, coef_carry = coefs
    grad_pre = gates.new_empty((steps, batch, width))  # (T, B, 4H): d a_i, d a_f, d a_g, d a_o
    grad_cells = gates.new_empty((steps, batch, size))  # d loss / d c_t (total), (T, B, H)
    grad_pre_steps = grad_pre.unbind(0)
    grad_ifg_steps = grad_pre[:, :, : 3 * size].view(steps, batch, 3, size).unbind(0)
    grad_o_steps = grad_pre[:, :, 3 * size :].unbind(0)
    grad_cell_steps = grad_cells.unbind(0)
    grad_cell_rows = grad_cells.unsqueeze(2).unbind(0)  # each (B, 1, H)
    coef_ifg_steps, coef_o_steps = coef_ifg.unbind(0), coef_o.unbind(0)
    coef_cell_steps, coef_carry_steps = coef_cell.unbind(0), coef_carry.unbind(0)
    grad_in = grad_steps.unbind(0)
    recurrent_t = weight_recurrent.t()  # (4H, H)
    grad_state = grad_in[steps - 1]
    buffers = (gates.new_empty((batch, size)), gates.new_empty((batch, size)))
    for step in range(steps - 1, -1, -1):
        torch.mul(grad_state, coef_o_steps[step], out=grad_o_steps[step])
        grad_cell = grad_cell_steps[step]
        if step == steps - 1:
            torch.mul(grad_state, coef_cell_steps[step], out=grad_cell)
        else:
            torch.mul(grad_cell_steps[step + 1], coef_carry_steps[step + 1], out=grad_cell)
            grad_cell.addcmul_(grad_state, coef_cell_steps[step])
        torch.mul(grad_cell_rows[step], coef_ifg_steps[step], out=grad_ifg_steps[step])
        if step == 0:
            break
        carry = buffers[step % 2]
        grad_state = torch.addmm(grad_in[step - 1], grad_pre_steps[step], recurrent_t, out=carry)
    return grad_pre


def _coefficients(
    gates: torch.Tensor, cells: torch.Tensor, tanh_cells: torch.Tensor, peephole: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-step factors of the backward recursion, for all steps at once.

    d a_{i,f,g} = dc ⊙ coef_ifg; d a_o = dh ⊙ coef_o;
    dc_t = dc_{t+1} ⊙ coef_carry_{t+1} + dh_t ⊙ coef_cell_t.
    """
    steps, batch, width = gates.shape
    size = width // 4
    view = gates.view(steps, batch, 4, size)  # (T, B, 4, H)
    input_gate, forget, candidate, output = view.unbind(2)
    previous_cells = cells[:-1]  # (T, B, H)
    coef_ifg = gates.new_empty((steps, batch, 3, size))  # (T, B, 3, H)
    sigmoid_derivative = torch.neg(view[:, :, :2]).add_(1.0).mul_(view[:, :, :2])  # (T, B, 2, H)
    torch.mul(sigmoid_derivative[:, :, 0], candidate, out=coef_ifg[:, :, 0])
    torch.mul(sigmoid_derivative[:, :, 1], previous_cells, out=coef_ifg[:, :, 1])
    torch.mul(candidate, candidate, out=coef_ifg[:, :, 2]).neg_().add_(1.0).mul_(input_gate)
    coef_o = torch.neg(output).add_(1.0).mul_(output).mul_(tanh_cells)  # (T, B, H)
    coef_cell = torch.mul(tanh_cells, tanh_cells).neg_().add_(1.0).mul_(output)
    coef_cell.addcmul_(coef_o, peephole[2])  # (T, B, H)
    coef_carry = torch.addcmul(forget, coef_ifg[:, :, 0], peephole[0])
    coef_carry.addcmul_(coef_ifg[:, :, 1], peephole[1])  # (T, B, H)
    return coef_ifg, coef_o, coef_cell, coef_carry


def _input_grads(
    needs: tuple[bool, ...],
    grad_pre: torch.Tensor,
    *,
    states: torch.Tensor,
    cells: torch.Tensor,
    size: int,
    grad_peephole: torch.Tensor | None,
) -> tuple[torch.Tensor | None, ...]:
    """Gradients for x_proj, weight_recurrent (H, 4H) and weight_peephole (3, H).

    grad_pre is (B, T, 4H): a batch-major buffer (compiled path) or a transposed view of a
    time-major one (torch path); the weight gradient is one matmul in either layout.
    """
    grad_x = grad_pre if needs[0] else None  # (B, T, 4H)
    grad_recurrent = None
    if needs[1]:
        if grad_pre.is_contiguous():
            previous = states[:-1].transpose(0, 1).reshape(-1, size)  # (B*T, H)
            flat = grad_pre.view(-1, 4 * size)  # (B*T, 4H)
        else:
            previous = states[:-1].reshape(-1, size)  # (T*B, H)
            flat = grad_pre.transpose(0, 1).reshape(-1, 4 * size)  # (T*B, 4H)
        grad_recurrent = previous.t().mm(flat)  # (H, 4H)
    if not needs[2]:
        grad_peephole = None
    elif grad_peephole is None:
        steps, batch = grad_pre.shape[1], grad_pre.shape[0]
        view = grad_pre.transpose(0, 1).reshape(steps, batch, 4, size)  # (T, B, 4, H)
        grad_peephole = torch.stack(
            [
                (view[:, :, 0] * cells[:-1]).sum((0, 1)),
                (view[:, :, 1] * cells[:-1]).sum((0, 1)),
                (view[:, :, 3] * cells[1:]).sum((0, 1)),
            ]
        )  # (3, H)
    return grad_x, grad_recurrent, grad_peephole


def lstm_sequence(
    x_proj: torch.Tensor,
    weight_recurrent: torch.Tensor,
    weight_peephole: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the paper's peephole LSTM over (B, T, 4H) pre-activations; returns (B, T, H)."""
    size = check_shapes("lstm", x_proj, weight_recurrent, gates=4)
    if weight_peephole is None:
        weight_peephole = weight_recurrent.new_zeros((3, size))
    if tuple(weight_peephole.shape) != (3, size):
        raise UsageError(
            f"lstm kernel: weight_peephole must be (3, {size}), got {tuple(weight_peephole.shape)}"
        )
    return LstmSequence.apply(x_proj, weight_recurrent, weight_peephole)  # type: ignore[no-untyped-call,no-any-return]

"""Reference kernels: the paper's cell equations, one time step at a time, autograd backward.

Every kernel has the signature of `rnnbench.engine.Kernel`:
    kernel(x_proj (B, T, G*H), weight_recurrent (H, G*H), weight_peephole (3, H) | None)
        -> hidden (B, T, H)
with `x_proj = x @ weight_input + bias` already computed for all time steps and h_0 = c_0 = 0.
They are slow but obviously correct: the fast kernels in `rnnbench.engine` are tested against them.
"""

from __future__ import annotations

import torch


def tanh_kernel(
    x_proj: torch.Tensor, weight_recurrent: torch.Tensor, weight_peephole: torch.Tensor | None
) -> torch.Tensor:
    """h_t = tanh(W x_t + U h_{t-1} + b)."""
    batch, steps, hidden_size = x_proj.shape
    h = x_proj.new_zeros(batch, hidden_size)  # (B, H)
    outputs = []
    for t in range(steps):
        h = torch.tanh(x_proj[:, t] + h @ weight_recurrent)
        outputs.append(h)
    return torch.stack(outputs, dim=1)  # (B, T, H)


def gru_kernel(
    x_proj: torch.Tensor, weight_recurrent: torch.Tensor, weight_peephole: torch.Tensor | None
) -> torch.Tensor:
    """Chung et al. 2014 GRU: the reset gate scales h *before* the candidate's recurrent matmul.

    r = σ(W_r x + U_r h + b_r), z = σ(W_z x + U_z h + b_z),
    h̃ = tanh(W x + U (r ⊙ h) + b), h' = z ⊙ h + (1 − z) ⊙ h̃.
    """
    batch, steps, gates_hidden = x_proj.shape
    hidden_size = gates_hidden // 3
    u_rz = weight_recurrent[:, : 2 * hidden_size]  # (H, 2H)
    u_n = weight_recurrent[:, 2 * hidden_size :]  # (H, H)
    h = x_proj.new_zeros(batch, hidden_size)  # (B, H)
    outputs = []
    for t in range(steps):
        h = gru_step(x_proj[:, t], h, u_rz, u_n)[-1]
        outputs.append(h)
    return torch.stack(outputs, dim=1)  # (B, T, H)


def gru_step(
    x_t: torch.Tensor, h: torch.Tensor, u_rz: torch.Tensor, u_n: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One paper-GRU step from x_t (B, 3H) and h (B, H): (r, z, candidate, new h), each (B, H)."""
    x_r, x_z, x_n = x_t.chunk(3, dim=1)  # 3 x (B, H)
    h_r, h_z = (h @ u_rz).chunk(2, dim=1)  # 2 x (B, H)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    candidate = torch.tanh(x_n + (r * h) @ u_n)
    return r, z, candidate, z * h + (1 - z) * candidate


def lstm_kernel(
    x_proj: torch.Tensor, weight_recurrent: torch.Tensor, weight_peephole: torch.Tensor | None
) -> torch.Tensor:
    """Graves 2013 LSTM with diagonal peepholes: i and f see c_{t-1}, o sees c_t.

    Gate blocks [i, f, g, o]; peephole rows [i, f, o]; None = the same cell without peepholes.
    """
    batch, steps, gates_hidden = x_proj.shape
    hidden_size = gates_hidden // 4
    if weight_peephole is None:
        weight_peephole = x_proj.new_zeros(3, hidden_size)  # (3, H): no peephole terms
    h = x_proj.new_zeros(batch, hidden_size)  # (B, H)
    c = x_proj.new_zeros(batch, hidden_size)  # (B, H)
    outputs = []
    for t in range(steps):
        _, _, _, c, h = lstm_step(x_proj[:, t], h, c, weight_recurrent, weight_peephole)
        outputs.append(h)
    return torch.stack(outputs, dim=1)  # (B, T, H)


def lstm_step(
    x_t: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    weight_recurrent: torch.Tensor,
    weight_peephole: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One peephole-LSTM step from x_t (B, 4H), h and c (B, H): (i, f, o, new c, new h)."""
    peep_i, peep_f, peep_o = weight_peephole  # 3 x (H,)
    pre_i, pre_f, pre_g, pre_o = (x_t + h @ weight_recurrent).chunk(4, dim=1)  # 4 x (B, H)
    i = torch.sigmoid(pre_i + peep_i * c)
    f = torch.sigmoid(pre_f + peep_f * c)
    c = f * c + i * torch.tanh(pre_g)
    o = torch.sigmoid(pre_o + peep_o * c)
    return i, f, o, c, o * torch.tanh(c)

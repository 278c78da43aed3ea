"""The cell registry, parameter counts, the paper equations, fused/paper agreement, weight noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnbench.engine import KERNELS
from rnnbench.errors import UnknownNameError
from rnnbench.models import (
    CELLS,
    VARIANTS,
    CellSpec,
    SequenceModel,
    build_model,
    get_cell,
    params_recurrent,
    params_total,
    register_cell,
)
from rnnbench.models.paper import reference_kernel

INPUT = 88
PAPER_SIZES = {"tanh": 100, "gru": 46, "lstm": 36}
PAPER_COUNTS = {
    ("tanh", "paper"): 18_900,
    ("gru", "paper"): 18_630,
    ("lstm", "paper"): 18_108,
    ("tanh", "fused"): 19_000,
    ("gru", "fused"): 18_768,
    ("lstm", "fused"): 18_144,
}
GRID = [(cell, variant) for cell in CELLS for variant in VARIANTS]


def expected_recurrent(spec: CellSpec, variant: str, hidden: int) -> int:
    """G blocks of (I*H + H*H + biases); paper: 1 bias, 3H peepholes (LSTM); fused: 2 biases."""
    biases = 1 if variant == "paper" else 2
    peepholes = 3 * hidden if spec.peephole and variant == "paper" else 0
    return spec.gates * (INPUT * hidden + hidden * hidden + biases * hidden) + peepholes


@pytest.mark.parametrize(("cell", "variant"), GRID)
@pytest.mark.parametrize("hidden", [1, 7, 46])
def test_parameter_counts_follow_the_formula(cell: str, variant: str, hidden: int) -> None:
    model = build_model(cell, variant, hidden)
    expected = expected_recurrent(get_cell(cell), variant, hidden)
    assert params_recurrent(model) == expected
    assert params_total(model) == expected + hidden * INPUT + INPUT


@pytest.mark.parametrize(("cell", "variant"), list(PAPER_COUNTS))
def test_paper_sizes_give_the_documented_counts(cell: str, variant: str) -> None:
    model = build_model(cell, variant, PAPER_SIZES[cell])
    assert params_recurrent(model) == PAPER_COUNTS[cell, variant]


@pytest.mark.parametrize(("cell", "variant"), GRID)
def test_forward_shapes_and_gradients_reach_every_parameter(cell: str, variant: str) -> None:
    torch.manual_seed(0)
    model = build_model(cell, variant, 5)
    if variant == "paper" and get_cell(cell).peephole:
        torch.nn.init.uniform_(model.recurrent.weight_peephole, -0.5, 0.5)
    x = torch.bernoulli(torch.full((3, 4, INPUT), 0.2))  # (B, T, 88)
    logits = model(x, weight_noise=0.1)
    assert logits.shape == (3, 4, INPUT)
    logits.square().sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_paper_init_matches_the_papers_code() -> None:
    torch.manual_seed(0)
    layer = build_model("gru", "paper", 20).recurrent
    assert layer.weight_input.abs().max() <= 0.1
    assert (
        float(layer.weight_input.detach().std()) > 0.05
    )  # spread over U(-0.1, 0.1), not collapsed
    for block in layer.weight_recurrent.detach().split(20, dim=1):  # 3 x (H, H)
        torch.testing.assert_close(block.T @ block, torch.eye(20), atol=1e-5, rtol=0)
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize("variant", ["paper", "fused"])
def test_forget_bias_init_changes_only_the_forget_gate_bias(variant: str) -> None:
    """paper-forget1: the paper's init, same random draws, with the LSTM's f-block bias at 1."""
    size = 6
    models = {}
    for init in ("paper", "paper-forget1"):
        torch.manual_seed(0)
        models[init] = build_model("lstm", variant, size, init=init)
    plain, forget = (dict(models[init].named_parameters()) for init in ("paper", "paper-forget1"))
    if variant == "paper":
        bias = forget["recurrent.bias"].detach()  # (4H,) blocks [i, f, g, o]
    else:  # torch sums its two bias vectors
        bias = (forget["recurrent.rnn.bias_ih_l0"] + forget["recurrent.rnn.bias_hh_l0"]).detach()
    expected = torch.zeros(4 * size)
    expected[size : 2 * size] = 1.0
    torch.testing.assert_close(bias, expected)
    for name, value in plain.items():
        if "bias" not in name:
            torch.testing.assert_close(forget[name], value)


def test_lstm_without_peepholes_is_the_fused_lstm_with_merged_biases() -> None:
    """peepholes=False drops weight_peephole and nothing else: with torch's weights copied in (two
    biases summed), the paper-variant kernel computes exactly nn.LSTM, forward and backward."""
    torch.manual_seed(4)
    fused = build_model("lstm", "fused", 7).double()
    with torch.no_grad():
        for parameter in fused.parameters():
            parameter.uniform_(-0.5, 0.5)
    paper = build_model("lstm", "paper", 7, peepholes=False).double()
    assert paper.recurrent.weight_peephole is None
    assert params_recurrent(paper) == 4 * (INPUT * 7 + 7 * 7 + 7)
    rnn = copy_fused_into_paper(fused, paper)
    x = torch.bernoulli(torch.full((3, 6, INPUT), 0.2, dtype=torch.float64))  # (B, T, 88)
    paper_out, fused_out = paper(x), fused(x)
    torch.testing.assert_close(paper_out, fused_out, rtol=0, atol=1e-12)
    paper_out.square().sum().backward()
    fused_out.square().sum().backward()
    assert rnn.weight_hh_l0.grad is not None and paper.recurrent.weight_recurrent.grad is not None
    torch.testing.assert_close(
        paper.recurrent.weight_recurrent.grad, rnn.weight_hh_l0.grad.T, rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize(
    ("cell", "variant"), [("gru", "paper"), ("tanh", "paper"), ("lstm", "fused")]
)
def test_peepholes_off_needs_a_paper_cell_that_has_them(cell: str, variant: str) -> None:
    with pytest.raises(ValueError, match="peepholes=False needs the paper variant"):
        build_model(cell, variant, 4, peepholes=False)


def test_unknown_cell_and_variant_are_named() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'gru'"):
        build_model("gruu", "paper", 4)
    with pytest.raises(UnknownNameError, match="variant 'fast'"):
        build_model("gru", "fast", 4)


# ---------------------------------------------------------------- the paper's equations, by hand


def sigmoid(value: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-value))


def by_hand(cell: str, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """Hidden states for x (T, I), one sequence, written straight from the paper's equations."""
    w, u, b = params["weight_input"], params["weight_recurrent"], params["bias"]
    hidden = u.shape[0]
    h, c = np.zeros(hidden), np.zeros(hidden)
    states = []
    for frame in x:
        if cell == "tanh":
            h = np.tanh(frame @ w + h @ u + b)
        elif cell == "gru":
            block = {gate: slice(k * hidden, (k + 1) * hidden) for k, gate in enumerate("rzn")}
            r = sigmoid(frame @ w[:, block["r"]] + h @ u[:, block["r"]] + b[block["r"]])
            z = sigmoid(frame @ w[:, block["z"]] + h @ u[:, block["z"]] + b[block["z"]])
            candidate = np.tanh(
                frame @ w[:, block["n"]] + (r * h) @ u[:, block["n"]] + b[block["n"]]
            )
            h = z * h + (1 - z) * candidate
        else:
            p = params["weight_peephole"]
            pre = frame @ w + h @ u + b  # (4H,): blocks [i, f, g, o]
            pre_i, pre_f, pre_g, pre_o = np.split(pre, 4)
            i = sigmoid(pre_i + p[0] * c)
            f = sigmoid(pre_f + p[1] * c)
            c = f * c + i * np.tanh(pre_g)
            o = sigmoid(pre_o + p[2] * c)
            h = o * np.tanh(c)
        states.append(h)
    return np.stack(states)


@pytest.mark.parametrize("cell", ["tanh", "gru", "lstm"])
def test_paper_cells_match_the_equations_by_hand(cell: str) -> None:
    torch.manual_seed(1)
    layer = build_model(cell, "paper", 6).recurrent.double()
    with torch.no_grad():  # non-zero biases and peepholes so that every term is exercised
        for parameter in layer.parameters():
            parameter.uniform_(-0.8, 0.8)
    x = torch.bernoulli(torch.full((1, 3, INPUT), 0.3, dtype=torch.float64))  # (1, T, 88)
    hidden = layer(x)[0].detach().numpy()  # (T, H)
    params = {name: p.detach().numpy() for name, p in layer.named_parameters()}
    np.testing.assert_allclose(hidden, by_hand(cell, x[0].numpy(), params), rtol=0, atol=1e-12)


def copy_fused_into_paper(fused: SequenceModel, paper: SequenceModel) -> torch.nn.RNNBase:
    """Torch's weights into the paper layout (two biases summed, peepholes zeroed); returns the
    fused layer's nn.RNNBase."""
    rnn: torch.nn.RNNBase = fused.recurrent.rnn
    with torch.no_grad():
        paper.recurrent.weight_input.copy_(rnn.weight_ih_l0.T)  # (I, G*H) from (G*H, I)
        paper.recurrent.weight_recurrent.copy_(rnn.weight_hh_l0.T)  # (H, G*H) from (G*H, H)
        paper.recurrent.bias.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
        if paper.recurrent.weight_peephole is not None:
            paper.recurrent.weight_peephole.zero_()
        paper.output.load_state_dict(fused.output.state_dict())
    return rnn


@pytest.mark.parametrize("cell", ["tanh", "lstm"])
def test_fused_and_paper_agree_without_peepholes_and_with_merged_biases(cell: str) -> None:
    torch.manual_seed(2)
    fused = build_model(cell, "fused", 7).double()
    with torch.no_grad():
        for parameter in fused.parameters():
            parameter.uniform_(-0.5, 0.5)
    paper = build_model(cell, "paper", 7).double()
    copy_fused_into_paper(fused, paper)
    x = torch.bernoulli(torch.full((2, 5, INPUT), 0.2, dtype=torch.float64))  # (B, T, 88)
    torch.testing.assert_close(paper(x), fused(x), rtol=0, atol=1e-12)


def test_fused_and_paper_gru_differ_where_the_paper_says() -> None:
    """Same weights, different reset placement: the two GRUs must not compute the same thing."""
    torch.manual_seed(3)
    fused = build_model("gru", "fused", 5).double()
    paper = build_model("gru", "paper", 5).double()
    rnn = fused.recurrent.rnn
    with torch.no_grad():
        torch.nn.init.uniform_(rnn.weight_hh_l0, -1, 1)
        paper.recurrent.weight_input.copy_(rnn.weight_ih_l0.T)
        paper.recurrent.weight_recurrent.copy_(rnn.weight_hh_l0.T)
        paper.output.load_state_dict(fused.output.state_dict())
    x = torch.bernoulli(torch.full((1, 6, INPUT), 0.3, dtype=torch.float64))
    assert not torch.allclose(paper(x), fused(x), atol=1e-6)


# ---------------------------------------------------------------- weight noise


def noisy_matrices(model: torch.nn.Module, variant: str) -> tuple[torch.Tensor, torch.Tensor]:
    layer = model.recurrent
    if variant == "paper":
        return layer.weight_input, layer.weight_recurrent
    return layer.rnn.weight_ih_l0, layer.rnn.weight_hh_l0


@pytest.mark.parametrize(("cell", "variant"), GRID)
def test_noise_is_off_in_eval_mode_and_fresh_in_training(cell: str, variant: str) -> None:
    torch.manual_seed(4)
    model = build_model(cell, variant, 6)
    x = torch.bernoulli(torch.full((2, 5, INPUT), 0.2))
    clean = model(x).detach()
    model.eval()
    torch.testing.assert_close(model(x, weight_noise=0.5), clean, rtol=0, atol=0)
    model.train()
    first, second = model(x, weight_noise=0.5), model(x, weight_noise=0.5)
    assert (first - clean).abs().max() > 1e-3
    assert (first - second).abs().max() > 1e-3
    torch.testing.assert_close(model(x, weight_noise=0.0), clean, rtol=0, atol=0)


@pytest.mark.parametrize(("cell", "variant"), GRID)
def test_noise_touches_only_the_two_matrices_and_gradients_reach_the_clean_weights(
    cell: str, variant: str
) -> None:
    """A noisy forward equals a clean forward at (W + noise, U + noise) with everything else
    unchanged, and its gradients are those at the noisy point, stored on the clean parameters."""
    std = 0.3
    torch.manual_seed(5)
    model = build_model(cell, variant, 6).double()
    x = torch.bernoulli(torch.full((2, 4, INPUT), 0.2, dtype=torch.float64))
    torch.manual_seed(99)
    noisy_logits = model(x, weight_noise=std)
    noisy_logits.square().sum().backward()

    twin = build_model(cell, variant, 6).double()
    twin.load_state_dict(model.state_dict())
    torch.manual_seed(99)
    with torch.no_grad():
        for matrix in noisy_matrices(twin, variant):
            matrix.add_(std * torch.randn_like(matrix))
    twin_logits = twin(x)
    twin_logits.square().sum().backward()

    torch.testing.assert_close(noisy_logits, twin_logits, rtol=0, atol=1e-12)
    for (name, parameter), twin_parameter in zip(
        model.named_parameters(), twin.parameters(), strict=True
    ):
        torch.testing.assert_close(
            parameter.grad,
            twin_parameter.grad,
            rtol=1e-10,
            atol=1e-12,
            msg=lambda m, n=name: f"{n}: {m}",
        )


# ---------------------------------------------------------------- registry as data


def relu_kernel(
    x_proj: torch.Tensor, weight_recurrent: torch.Tensor, weight_peephole: torch.Tensor | None
) -> torch.Tensor:
    """h_t = relu(W x_t + U h_{t-1} + b): a kernel a new built-in cell would add to reference.py."""
    h = x_proj.new_zeros(x_proj.shape[0], weight_recurrent.shape[0])  # (B, H)
    states = []
    for t in range(x_proj.shape[1]):
        h = torch.relu(x_proj[:, t] + h @ weight_recurrent)
        states.append(h)
    return torch.stack(states, dim=1)  # (B, T, H)


def test_a_registered_cell_is_buildable_by_name() -> None:
    """Dropping in a new cell is one registry entry; the engine lookup and noise come for free."""
    register_cell(CellSpec("relu", kernel=f"{__name__}:relu_kernel", gates=1))
    try:
        model = build_model("relu", "paper", 4)
        assert params_recurrent(model) == INPUT * 4 + 16 + 4
        assert model(torch.zeros(1, 3, INPUT)).shape == (1, 3, INPUT)
        with pytest.raises(ValueError, match="no fused variant"):
            build_model("relu", "fused", 4)
    finally:
        del CELLS["relu"]


def test_paper_layers_use_an_engine_kernel_when_one_is_registered() -> None:
    calls: list[tuple[int, ...]] = []
    reference = reference_kernel(get_cell("gru"))

    def counting_kernel(
        x_proj: torch.Tensor, weight_recurrent: torch.Tensor, weight_peephole: torch.Tensor | None
    ) -> torch.Tensor:
        calls.append(tuple(x_proj.shape))
        return reference(x_proj, weight_recurrent, weight_peephole)

    previous = KERNELS.get("gru")
    KERNELS["gru"] = counting_kernel
    try:
        build_model("gru", "paper", 3)(torch.zeros(2, 5, INPUT))
    finally:
        if previous is None:
            del KERNELS["gru"]
        else:
            KERNELS["gru"] = previous
    assert calls == [(2, 5, 9)]

"""The cell registry holds each cell fact once: paper sizes, the parameter budget behind
`hidden_size: auto`, a new built-in cell in one entry, the paper configs as differences from the
defaults, and weight noise on a plugin's matrices."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import torch

from rnnbench.bench import contenders
from rnnbench.cells import (
    CELLS,
    PARAMETER_BUDGET,
    CellSpec,
    auto_hidden_size,
    display_rank,
    get_cell,
    nearest_size,
    paper_cells,
    register_cell,
)
from rnnbench.config import MAX_HIDDEN_SIZE, load_raw, parse_config, schema_defaults
from rnnbench.errors import PluginError
from rnnbench.models import build_model, params_recurrent
from rnnbench.sweep import expand_bases
from tests.cells.conftest import EXAMPLE, MGU, prepend_path
from tests.conftest import REPO_ROOT
from tests.models.test_models import relu_kernel  # noqa: F401 (registered by its path below)

PAPER = REPO_ROOT / "configs" / "paper"


def test_the_budget_is_the_mean_of_the_papers_three_counts() -> None:
    counts = [
        params_recurrent(build_model(cell, "paper", CELLS[cell].paper_hidden_size or 0))
        for cell in paper_cells()
    ]
    assert counts == [18_900, 18_630, 18_108]
    assert round(statistics.fmean(counts)) == PARAMETER_BUDGET


def test_auto_keeps_the_papers_sizes_for_its_cells() -> None:
    sizes = {cell: auto_hidden_size(cell, MAX_HIDDEN_SIZE) for cell in paper_cells()}
    assert sizes == {"tanh": 100, "gru": 46, "lstm": 36}
    for cell in paper_cells():
        config = parse_config({"data": {"name": "jsb"}, "model": {"cell": cell}}, "test")
        assert config.model.hidden_size == sizes[cell]


def test_auto_sizes_a_plugin_to_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    prepend_path(monkeypatch, EXAMPLE)
    size = auto_hidden_size(MGU, MAX_HIDDEN_SIZE)
    counts = {
        hidden: params_recurrent(build_model(MGU, "paper", hidden))
        for hidden in (size - 1, size, size + 1)
    }
    distances = {hidden: abs(count - PARAMETER_BUDGET) for hidden, count in counts.items()}
    assert size == 62 and min(distances, key=distances.__getitem__) == size


def test_nearest_size_on_a_known_count() -> None:
    assert nearest_size(lambda h: h * h, 50, 100, "square") == 7  # 49 beats 64
    assert nearest_size(lambda h: 10 * h, 15, 100, "linear") == 1  # 10 and 20 tie: the smaller
    assert nearest_size(lambda h: h * h, 1, 100, "square") == 1
    with pytest.raises(PluginError, match="even 100 units give fewer than 1,000,000"):
        nearest_size(lambda h: h * h, 1_000_000, 100, "square")


def test_a_new_builtin_cell_is_one_entry_everywhere() -> None:
    """One CellSpec (plus its kernel): configs, auto size, reproduce's grid, order, bench."""
    register_cell(CellSpec("relu", kernel=f"{__name__}:relu_kernel", colour="#000000"))
    try:
        config = parse_config({"data": {"name": "jsb"}, "model": {"cell": "relu"}}, "test")
        assert config.model.hidden_size == 99  # 18,612 parameters, nearest 18,546
        (base,) = expand_bases(PAPER, ["jsb"], ["relu"])  # no configs/paper file: jsb's protocol
        loaded = base.load()
        assert (loaded.model.cell, loaded.model.hidden_size) == ("relu", 99)
        assert loaded.train.eval_train_every == 10
        assert sorted(["relu", "zeta", "gru"], key=display_rank) == ["gru", "relu", "zeta"]
        assert [contender.impl for contender in contenders("relu")] == ["rnnbench-paper"]
    finally:
        del CELLS["relu"]


def test_the_paper_configs_hold_only_what_differs_from_the_defaults() -> None:
    defaults = schema_defaults()
    for path in sorted(PAPER.glob("*.yaml")):
        raw = load_raw(path)
        written = {
            f"{section}.{key}": value
            for section, fields in raw.items()
            for key, value in fields.items()
        }
        assert set(written) == {"data.name", "model.cell", "train.eval_train_every"}, path
        assert written["train.eval_train_every"] != defaults["train.eval_train_every"]
        dataset, cell = Path(path).stem.rsplit("-", 1)
        assert (written["data.name"], written["model.cell"]) == (dataset, cell)


def test_weight_noise_perturbs_a_plugins_named_matrices_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepend_path(monkeypatch, EXAMPLE)
    assert get_cell(MGU).plugin is not None
    torch.manual_seed(0)
    model = build_model(MGU, "paper", 5)
    assert model.recurrent.noisy == ("weight_input", "weight_recurrent")
    x = torch.bernoulli(torch.full((3, 4, 88), 0.2))  # (B, T, 88)
    clean = model(x)
    noisy = model(x, weight_noise=0.5)
    assert not torch.allclose(clean, noisy)
    noisy.square().sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    model.eval()
    torch.testing.assert_close(model(x, weight_noise=0.5), clean)


def test_init_torch_redraws_a_plugins_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    prepend_path(monkeypatch, EXAMPLE)
    torch.manual_seed(0)
    paper = build_model(MGU, "paper", 8, init="paper")
    assert float(paper.recurrent.cell.bias.detach().abs().sum()) == 0.0  # its own init: zero bias
    torch.manual_seed(0)
    redrawn = build_model(MGU, "paper", 8, init="torch")
    bias = redrawn.recurrent.cell.bias
    assert 0 < float(bias.detach().abs().max()) <= 8**-0.5

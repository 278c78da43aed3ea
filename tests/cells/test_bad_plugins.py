"""A cell that cannot be used is refused in one line, exit 2, before any training starts: it does
not import, is not a cell, builds no module, returns the wrong shape or NaN, is not causal, mixes
the sequences of a batch, or takes a built-in's name through an entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rnnbench.cli import app
from tests.cells.conftest import prepend_path, write_distribution

HEADER = "import torch\nfrom torch import nn\n\n"
BASE = """
class Base(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight = nn.Parameter(torch.randn(input_size, hidden_size) * 0.1)
"""
PLUGINS = {  # module source (after HEADER and BASE) -> the attribute a config names
    "import_fails": ("raise RuntimeError('no GPU driver here')\n", "Cell"),
    "function": ("def Cell(input_size, hidden_size):\n    return None\n", "Cell"),
    "plain_class": ("class Cell:\n    pass\n", "Cell"),
    "constructor_fails": (
        "class Cell(Base):\n    def __init__(self, i, h):\n        raise ValueError('bad size')\n",
        "Cell",
    ),
    "wrong_shape": (
        "class Cell(Base):\n    def forward(self, x):\n        return (x @ self.weight)[..., 1:]\n",
        "Cell",
    ),
    "nan": (
        "class Cell(Base):\n    def forward(self, x):\n"
        "        return (x @ self.weight) * float('nan')\n",
        "Cell",
    ),
    "tuple": (
        "class Cell(Base):\n    def forward(self, x):\n        return x @ self.weight, None\n",
        "Cell",
    ),
    "not_causal": (
        "class Cell(Base):\n    def forward(self, x):\n"
        "        return torch.tanh(x @ self.weight).flip(1).cumsum(1).flip(1)\n",
        "Cell",
    ),
    "mixes_batch": (
        "class Cell(Base):\n    def forward(self, x):\n"
        "        mean = torch.tanh(x @ self.weight).mean(0, keepdim=True)\n"
        "        return mean.expand(x.shape[0], -1, -1)\n",
        "Cell",
    ),
    "no_parameters": (
        "class Cell(nn.Module):\n    def __init__(self, i, h):\n        super().__init__()\n"
        "        self.h = h\n    def forward(self, x):\n"
        "        return x.new_zeros(x.shape[0], x.shape[1], self.h)\n",
        "Cell",
    ),
    "unknown_noisy": (
        "class Cell(Base):\n    noisy_parameters = ('weight_hh',)\n"
        "    def forward(self, x):\n        return torch.tanh(x @ self.weight)\n",
        "Cell",
    ),
}
MESSAGES = {
    "import_fails": "cannot import module 'bad_import_fails' (RuntimeError: no GPU driver here)",
    "function": "is not a cell: expected a torch.nn.Module subclass",
    "plain_class": "is not a cell: expected a torch.nn.Module subclass",
    "constructor_fails": "failed (ValueError: bad size)",
    "wrong_shape": "forward returned shape (3, 6, 7) on a (3, 6, 88) batch, expected (3, 6, 8)",
    "nan": "forward returned NaN or inf on the check batch",
    "tuple": "forward returned tuple, expected a tensor (B, T, H)",
    "not_causal": "depends on inputs after t",
    "mixes_batch": "depends on another sequence of the batch",
    "no_parameters": "no parameters",
    "unknown_noisy": "noisy_parameters names 'weight_hh', not parameters of the module",
    "missing_module": "cannot import module 'no_such_package.cells' (ModuleNotFoundError",
    "missing_attribute": "module 'bad_wrong_shape' has no attribute 'Nope'",
}


@pytest.fixture
def bad_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each bad plugin as its own module `bad_<kind>` in a directory on the path."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    for kind, (source, _) in PLUGINS.items():
        text = source if kind == "import_fails" else HEADER + BASE + "\n" + source
        (directory / f"bad_{kind}.py").write_text(textwrap.dedent(text))
    prepend_path(monkeypatch, directory)
    return directory


def config_for(tmp_path: Path, cell: str, hidden_size: int | str = 8) -> Path:
    path = tmp_path / "config.yaml"
    model = {"cell": cell, "hidden_size": hidden_size}
    path.write_text(yaml.safe_dump({"data": {"name": "jsb"}, "model": model}))
    return path


def cell_name(kind: str) -> str:
    if kind == "missing_module":
        return "no_such_package.cells:Cell"
    if kind == "missing_attribute":
        return "bad_wrong_shape:Nope"
    return f"bad_{kind}:{PLUGINS[kind][1]}"


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_a_bad_plugin_is_one_line_and_exit_2_before_training(
    kind: str, bad_plugins: Path, tmp_path: Path
) -> None:
    config = config_for(tmp_path, cell_name(kind))
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and MESSAGES[kind] in lines[0], result.stderr
    assert str(config) in lines[0] and "Traceback" not in result.output
    assert not run_dir.exists()


def test_hidden_size_auto_builds_a_bad_plugin_only_to_count_it(
    bad_plugins: Path, tmp_path: Path
) -> None:
    """auto sizes the cell by its parameters, then the check batch refuses it, one line."""
    config = config_for(tmp_path, cell_name("nan"), hidden_size="auto")
    result = CliRunner().invoke(app, ["train", str(config), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "forward returned NaN" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_entry_point_that_takes_a_builtin_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site-packages"
    write_distribution(site, "shadow-cells", "2.0", {"gru": "shadow.cells:GRU"}, "shadow")
    prepend_path(monkeypatch, site)
    config = config_for(tmp_path, "gru")
    result = CliRunner().invoke(app, ["train", str(config), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "entry point 'gru = shadow.cells:GRU' (distribution shadow-cells 2.0" in line
    assert "clashes with the built-in cell" in line and "\n" not in line
    bench = CliRunner().invoke(app, ["bench", "--cells", "gru", "--repeats", "1"])
    assert bench.exit_code == 2 and "clashes" in bench.stderr


def test_unknown_names_and_bad_bench_cells_exit_2(bad_plugins: Path) -> None:
    unknown = CliRunner().invoke(app, ["bench", "--cells", "mgu2"])
    assert unknown.exit_code == 2 and "unknown cell 'mgu2'" in unknown.stderr
    shape = CliRunner().invoke(app, ["bench", "--cells", cell_name("wrong_shape")])
    assert shape.exit_code == 2 and "forward returned shape" in shape.stderr
    assert "bench:" not in shape.stderr  # refused before the benchmark starts


def test_a_real_process_prints_one_line_and_exits_2(bad_plugins: Path, tmp_path: Path) -> None:
    config = config_for(tmp_path, cell_name("import_fails"))
    completed = subprocess.run(
        [sys.executable, "-m", "rnnbench", "train", str(config), "--run-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert len(completed.stderr.strip().splitlines()) == 1
    assert MESSAGES["import_fails"] in completed.stderr

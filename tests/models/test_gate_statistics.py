"""examples/gate_statistics.py on really trained tiny GRUs and LSTMs from the JSB mirror."""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.train.sample import load_trained

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "gate_statistics.py"
pytestmark = pytest.mark.mirror


@functools.cache
def load_example(name: str) -> ModuleType:
    """examples/<name>.py as a module, executed once per test session."""
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_tiny(data_dir: Path, run_dir: Path, *settings: str) -> Path:
    arguments = ["train", str(REPO / "configs" / "smoke.yaml"), "--run-dir", str(run_dir)]
    for setting in (f"data.data_dir={data_dir}", "data.max_sequences=4", "model.hidden_size=6",
                    "train.max_epochs=1", *settings):  # fmt: skip
        arguments += ["--set", setting]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    return run_dir


@pytest.mark.parametrize(
    ("cell", "settings"),
    [("lstm", ["model.peepholes=true"]), ("lstm", ["model.peepholes=false"]), ("gru", [])],
)
def test_the_scripts_loops_are_the_models_cells(
    data_dir_all: Path, tmp_path: Path, cell: str, settings: list[str]
) -> None:
    """Its hand-written loops give the model's own hidden states, so its gates are the model's."""
    run_dir = train_tiny(data_dir_all, tmp_path / "run", f"model.cell={cell}", *settings)
    _, model = load_trained(run_dir)
    layer = model.recurrent
    with torch.no_grad():
        layer.weight_input.add_(torch.randn_like(layer.weight_input))
        layer.bias.uniform_(-1, 1)
        if layer.weight_peephole is not None:
            layer.weight_peephole.uniform_(-1, 1)  # every peephole term exercised
        x = torch.bernoulli(torch.full((2, 9, 88), 0.2))  # (B, T, 88)
        states = load_example("gate_statistics").STATES[cell](layer, x)
        torch.testing.assert_close(states["h"], layer(x), rtol=1e-5, atol=1e-6)
    for gate in load_example("gate_statistics").GATES[cell]:
        assert states[gate].shape == (2, 9, 6)
        assert bool(((states[gate] >= 0) & (states[gate] <= 1)).all())


def test_the_script_prints_one_json_line_per_run_and_refuses_other_cells(
    data_dir_all: Path, tmp_path: Path
) -> None:
    lstm = train_tiny(data_dir_all, tmp_path / "lstm", "model.cell=lstm")
    gru = train_tiny(data_dir_all, tmp_path / "gru")
    tanh = train_tiny(data_dir_all, tmp_path / "tanh", "model.cell=tanh")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(lstm), str(gru), "--max-pieces", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lstm_record, gru_record = (json.loads(line) for line in done.stdout.splitlines())
    assert lstm_record["run"] == str(lstm) and len(lstm_record["peephole_abs_mean_ifo"]) == 3
    assert (lstm_record["pieces"], gru_record["pieces"]) == (2, 2)
    assert {"mean_r", "saturated_z", "saturated_tanh", "h_time_std"} <= set(gru_record)
    for record in (lstm_record, gru_record):
        assert 0 <= record["mean_abs_h"] <= 1 and 0 <= record["saturated_tanh"] <= 1
        assert record["h_time_std"] > 0  # the tiny models' hidden states follow the input
    refused = subprocess.run(
        [sys.executable, str(SCRIPT), str(tanh)], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == f"error: {tanh}: not a paper-variant GRU or LSTM run"

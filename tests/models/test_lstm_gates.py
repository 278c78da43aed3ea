"""examples/lstm_gates.py on really trained tiny LSTMs from the JSB mirror."""

from __future__ import annotations

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
SCRIPT = REPO / "examples" / "lstm_gates.py"

pytestmark = pytest.mark.mirror


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lstm_gates", SCRIPT)
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


@pytest.mark.parametrize("peepholes", [True, False])
def test_the_scripts_lstm_loop_is_the_models_lstm(
    data_dir_all: Path, tmp_path: Path, peepholes: bool
) -> None:
    """Its hand-written loop gives the model's own hidden states, so its gates are the model's."""
    setting = f"model.peepholes={str(peepholes).lower()}"
    run_dir = train_tiny(data_dir_all, tmp_path / "run", "model.cell=lstm", setting)
    _, model = load_trained(run_dir)
    with torch.no_grad():
        model.recurrent.weight_input.add_(torch.randn_like(model.recurrent.weight_input))
        if peepholes:
            model.recurrent.weight_peephole.uniform_(-1, 1)  # every peephole term exercised
        x = torch.bernoulli(torch.full((2, 9, 88), 0.2))  # (B, T, 88)
        states = load_script().lstm_states(model.recurrent, x)
        torch.testing.assert_close(states["h"], model.recurrent(x), rtol=1e-5, atol=1e-6)
    for gate in "ifo":
        assert states[gate].shape == (2, 9, 6)
        assert bool(((states[gate] >= 0) & (states[gate] <= 1)).all())


def test_the_script_prints_one_json_line_per_run_and_refuses_other_cells(
    data_dir_all: Path, tmp_path: Path
) -> None:
    lstm = train_tiny(data_dir_all, tmp_path / "lstm", "model.cell=lstm")
    gru = train_tiny(data_dir_all, tmp_path / "gru")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(lstm)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    record = json.loads(line)
    assert record["run"] == str(lstm) and len(record["peephole_abs_mean_ifo"]) == 3
    assert 0 <= record["mean_f"] <= 1 and 0 <= record["saturated_o"] <= 1
    assert 0 <= record["mean_abs_h"] <= 1 and record["mean_abs_c"] >= 0
    refused = subprocess.run(
        [sys.executable, str(SCRIPT), str(gru)], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == f"error: {gru}: not a paper-variant LSTM run"

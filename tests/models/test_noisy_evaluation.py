"""examples/noisy_evaluation.py on a really trained tiny GRU from the JSB mirror."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbench.errors import TrainingError
from rnnbench.records import read_metrics
from rnnbench.train.sample import load_trained
from tests.models.test_gate_statistics import load_example, train_tiny

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "noisy_evaluation.py"

pytestmark = pytest.mark.mirror


def test_clean_figures_are_the_runs_own_and_noise_costs(data_dir_all: Path, tmp_path: Path) -> None:
    run = train_tiny(data_dir_all, tmp_path / "run", "train.max_epochs=2")
    result = load_example("noisy_evaluation").report(run, "test", draws=2)
    metrics = read_metrics(run)
    # Without noise, the record's own values (4-decimal rounding aside).
    assert result["nll"] == pytest.approx(metrics.nll_test, abs=1e-3)
    assert result["nll_seqmean"] == pytest.approx(metrics.nll_test_seqmean, abs=1e-3)
    assert result["nll_noisy"] != result["nll"]  # the noise really perturbs the weights


def test_the_command_prints_one_json_line_per_run(data_dir_all: Path, tmp_path: Path) -> None:
    run = train_tiny(data_dir_all, tmp_path / "run")
    command = [sys.executable, str(SCRIPT), str(run), "--draws", "1"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["dataset"] == "jsb"
    missing = subprocess.run([*command[:2], str(tmp_path / "nowhere")], capture_output=True,
                             text=True, check=False, timeout=300)  # fmt: skip
    assert missing.returncode == 1 and missing.stderr.startswith("error:")


def test_last_weights_are_the_last_epochs_and_best_the_best(
    data_dir_all: Path, tmp_path: Path
) -> None:
    """--weights last scores the final epoch's weights: its clean valid NLL is the history's last
    row; the best weights give the history's lowest."""
    run = train_tiny(data_dir_all, tmp_path / "run", "train.max_epochs=4", "optim.lr=0.05")
    with (run / "history.csv").open() as handle:
        valid = [float(row["nll_valid"]) for row in csv.DictReader(handle)]
    example = load_example("noisy_evaluation")
    last = example.report(run, "valid", draws=1, weights="last")
    best = example.report(run, "valid", draws=1, weights="best")
    assert last["weights"] == "last" and last["nll"] == pytest.approx(valid[-1], abs=1e-3)
    assert best["nll"] == pytest.approx(min(valid), abs=1e-3)
    with pytest.raises(TrainingError, match="weights: 'first'"):
        load_trained(run, "first")

"""The Ray executor on a local 2-CPU Ray: same run directories, same resume rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import read_metrics
from rnnbench.sweep import read_trial_list
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

JSB_TANH = REPO_ROOT / "configs" / "paper" / "jsb-tanh.yaml"


def test_a_sweep_on_a_local_two_cpu_ray_runs_and_resumes(
    sweep_env: dict[str, str], tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    results = tmp_path / "results"
    args = [
        "sweep", str(JSB_TANH), "--executor", "ray", "--workers", "2", "--trials", "2",
        "--results-dir", str(results),
        "--set", "model.hidden_size=4", "--set", "train.max_epochs=1",
        "--set", "data.max_sequences=20",
    ]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    trials = read_trial_list(results)
    for trial in trials:
        metrics = read_metrics(results / "runs" / trial.trial_id)
        assert metrics.status in {"ok", "diverged"}
        assert metrics.config_hash == trial.trial_id
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "2 trials: 2 finished earlier, 0 ok" in again.stdout

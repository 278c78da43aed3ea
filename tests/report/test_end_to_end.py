"""Real runs: train tiny models with `rnnbench train` on JSB, then compare, plot and gate them."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pytest
import yaml
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.config import load_config
from rnnbench.report import load_baseline

REPO_ROOT = Path(__file__).resolve().parents[2]
CI_DIR = REPO_ROOT / "configs" / "ci"
CI_CONFIGS = sorted(CI_DIR.glob("jsb-*.yaml"))


def test_ci_suite_trains_all_three_cells_on_full_jsb() -> None:
    configs = [load_config(path) for path in CI_CONFIGS]
    assert sorted(config.model.cell for config in configs) == ["gru", "lstm", "tanh"]
    for config in configs:
        assert config.data.name == "jsb" and config.data.max_sequences is None
        assert config.device == "cpu" and config.train.num_threads == 1


def test_committed_baseline_covers_the_suite() -> None:
    baseline = load_baseline(CI_DIR / "baseline.json")
    assert sorted(baseline.rows) == [("jsb", cell, "paper") for cell in ("gru", "lstm", "tanh")]
    for row in baseline.rows.values():
        assert 0 < row["nll_test"] < 20 and row["frames_per_s"] > 0 and row["n_runs"] == 1


def test_example_workflow_runs_the_suite_and_gate() -> None:
    workflow = yaml.safe_load((REPO_ROOT / "examples" / "github-actions-ci.yml").read_text())
    commands = "\n".join(step.get("run", "") for step in workflow["jobs"]["gate"]["steps"])
    assert "configs/ci/run.sh" in commands
    run_script = (CI_DIR / "run.sh").read_text()
    assert "--baseline" in run_script and "configs/ci/jsb-*.yaml" in run_script


@pytest.mark.mirror
def test_train_then_compare_plot_and_gate(mirror_dir: Path, tmp_path: Path) -> None:
    from rnnbench.data import fetch

    data_dir = tmp_path / "data"
    fetch("jsb", data_dir=data_dir, mirror=mirror_dir, offline=True)
    runner = CliRunner()
    results = tmp_path / "results"
    for cell in ("tanh", "gru"):
        overrides = [f"data.data_dir={data_dir}", "data.max_sequences=6", "train.max_epochs=2"]
        args = ["train", str(CI_DIR / f"jsb-{cell}.yaml"), "--results-dir", str(results)]
        result = runner.invoke(app, args + [item for o in overrides for item in ("--set", o)])
        assert result.exit_code == 0, result.output
    baseline = tmp_path / "baseline.json"
    args = [
        "compare",
        str(results),
        "--format",
        "json",
        "--stats",
        "--plot",
        str(tmp_path / "plots"),
    ]
    result = runner.invoke(app, [*args, "--save-baseline", str(baseline)])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert [row["cell"] for row in document["rows"]] == ["tanh", "gru"]
    assert all(row["dataset"] == "jsb (first 6)" and row["epochs"] == 2 for row in document["rows"])
    [pair] = document["pairs"]
    nll = {row["cell"]: row["nll_test"] for row in document["rows"]}
    assert pair["difference"] == pytest.approx(nll["gru"] - nll["tanh"], abs=1e-4)
    assert matplotlib.image.imread(tmp_path / "plots" / "learning_curves_jsb_first_6.png").ndim == 3
    gate = runner.invoke(app, ["compare", str(results), "--baseline", str(baseline)])
    assert gate.exit_code == 0 and "gate: PASS" in gate.stderr

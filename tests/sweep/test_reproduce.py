"""`rnnbench reproduce --quick` on JSB end to end: sweep, Table 2 beside the paper and beside the
committed full-protocol references, plots."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import read_metrics
from rnnbench.sweep import read_trial_list
from rnnbench.sweep.quick import quick_plan

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

# Test-only budget on top of --quick: one epoch of JSB, at the paper's model sizes.
TEST_BUDGET = ("--set", "train.max_epochs=1")


def test_reproduce_quick_on_jsb_writes_table2_and_figures(
    sweep_env: dict[str, str], tmp_path: Path
) -> None:
    import matplotlib.image

    results = tmp_path / "reproduce"
    args = ["reproduce", "--quick", "--datasets", "jsb", "--results-dir", str(results)]
    result = CliRunner().invoke(app, [*args, "--workers", "2", *TEST_BUDGET])
    assert result.exit_code == 0, result.output

    trials = read_trial_list(results)
    assert sorted(trial.cell for trial in trials) == ["gru", "lstm", "tanh"]
    plan = quick_plan()
    for trial in trials:
        if ("jsb", trial.cell) in plan:
            assert trial.lr == plan["jsb", trial.cell].lr
        metrics = read_metrics(results / "runs" / trial.trial_id)
        assert (metrics.dataset, metrics.variant, metrics.epochs) == ("jsb", "paper", 1)
        assert metrics.batch_size == 1
        assert metrics.hidden_size == {"tanh": 100, "gru": 46, "lstm": 36}[trial.cell]

    table = (results / "table2.md").read_text()
    assert "paper test" in table
    rows = [line for line in table.splitlines() if line.startswith("| jsb")]
    assert sorted(row.split("|")[2].strip() for row in rows[:3]) == ["gru", "lstm", "tanh"]
    assert "| jsb" in result.stdout
    assert "Quick run" in table and "reference" in table
    quick_part = table.split("Quick run beside the full protocol")[1].split("\n## ")[0]
    quick_rows = quick_part.splitlines()
    verdicts = [line for line in quick_rows if line.startswith("| jsb")]
    assert len(verdicts) == 3  # one epoch is not enough: "not reached" or "no committed reference"

    pngs = sorted((results / "figures").glob("*.png"))
    assert pngs, "no figure written"
    for png in pngs:
        image = matplotlib.image.imread(png)
        assert image.ndim == 3
        assert image.shape[0] > 100

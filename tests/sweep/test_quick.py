"""The quick budget: derived from committed run records (checked against the shipped quick.yaml),
the rule on records written here in the real formats, the trials it makes and its verdicts."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rnnbench.config import config_to_dict, load_config
from rnnbench.records import CONFIG_FILE, HISTORY_COLUMNS, HISTORY_FILE, METRICS_FILE
from rnnbench.sweep import materialize, reproduce_spec
from rnnbench.sweep.derive_quick import derived_budget
from rnnbench.sweep.grid import paper_config_dir
from rnnbench.sweep.quick import MARGIN, QUICK_FILE, derive_plan, quick_plan
from rnnbench.sweep.report import quick_comparison

REPO = Path(__file__).resolve().parents[2]
ROOTS = ["results/paper-batch1", "results/ablations"]


def test_shipped_budget_is_what_the_committed_records_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.report.test_committed_results import tracked_copy

    copy = tracked_copy(tmp_path, *ROOTS)
    monkeypatch.chdir(copy)
    shipped = (REPO / "rnnbench" / "sweep" / QUICK_FILE).read_text()
    assert derived_budget(ROOTS) == shipped, "quick.yaml is stale: run results/tables.sh"


def write_run(
    root: Path, name: str, lr: float, seed: int, *, curve: list[float], test: float
) -> None:
    """A finished run record of the JSB GRU headline protocol at (lr, seed), in the real formats."""
    config = config_to_dict(
        load_config(paper_config_dir() / "jsb-gru.yaml", [f"optim.lr={lr}", f"seed={seed}"])
    )
    run_dir = root / "runs" / name
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(config))
    metrics = {"status": "ok", "nll_valid": min(curve), "nll_test": test}
    (run_dir / METRICS_FILE).write_text(json.dumps(metrics))
    with (run_dir / HISTORY_FILE).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_COLUMNS)
        for epoch, value in enumerate(curve, 1):
            writer.writerow([epoch, epoch * 1.0, "", value, lr, 1.0])


def test_reference_is_the_best_rate_and_the_budget_the_fastest_rate(tmp_path: Path) -> None:
    # Rate 1e-3 is best by mean validation NLL over its two seeds; 3e-3 is faster to get near it.
    write_run(tmp_path, "a0", 1e-3, 0, curve=[9.0, 8.8, 8.6, 8.5, 8.4, 8.3], test=8.35)
    write_run(tmp_path, "a1", 1e-3, 1, curve=[9.0, 8.8, 8.7, 8.5, 8.4, 8.35], test=8.45)
    write_run(tmp_path, "b0", 3e-3, 0, curve=[8.9, 8.5, 8.45, 8.6], test=8.6)
    write_run(tmp_path, "c0", 1e-5, 0, curve=[11.0, 10.9], test=10.9)  # another rate, slow
    protocols = {("jsb", "gru"): load_config(paper_config_dir() / "jsb-gru.yaml")}
    (pair,) = derive_plan([tmp_path], protocols)
    assert pair.reference_test == pytest.approx(8.4)  # mean of the two seeds at 1e-3
    assert (pair.reference_runs, pair.reference_lrs) == (2, 3)
    reference_valid = (8.3 + 8.35) / 2
    assert reference_valid + MARGIN >= 8.5  # b0 gets there at epoch 2, a0 only at epoch 4
    assert (pair.lr, pair.max_epochs) == (3e-3, math.ceil(2 * 1.1))


def test_runs_of_another_protocol_are_not_candidates(tmp_path: Path) -> None:
    write_run(tmp_path, "a0", 1e-3, 0, curve=[9.0, 8.5], test=8.5)
    protocols = {
        ("jsb", "gru"): load_config(paper_config_dir() / "jsb-gru.yaml", ["train.batch_size=8"])
    }
    assert derive_plan([tmp_path], protocols) == []


def test_quick_trials_are_the_headline_protocol_cut_short() -> None:
    plan = quick_plan()
    trials = materialize(reproduce_spec(["jsb", "musedata"], ["tanh", "gru"], quick=True))
    assert len(trials) == 4
    for trial in trials:
        pair = plan[(trial.dataset, trial.cell)]
        config = trial.config
        assert (trial.lr, config["train"]["max_epochs"]) == (pair.lr, pair.max_epochs)
        assert config["train"]["batch_size"] == 1 and config["data"]["max_sequences"] is None
        assert trial.seed == 0


def test_quick_verdicts_name_the_reference() -> None:
    plan = quick_plan()
    pair = next(iter(plan.values()))
    rows = pd.DataFrame(
        [
            {"dataset": pair.dataset, "cell": pair.cell, "nll_test": pair.reference_test + 0.1},
            {"dataset": pair.dataset, "cell": pair.cell, "nll_test": pair.reference_test + 0.9},
            {"dataset": "my-set", "cell": "mine", "nll_test": 3.0},
        ]
    )
    headers, cells = quick_comparison(rows)
    verdicts = [row[headers.index("verdict")] for row in cells]
    assert verdicts == ["within 0.5", "not reached in the quick budget", "no committed reference"]
    assert cells[0][headers.index("Δ")] == "+0.100"

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
from rnnbench.sweep.quick import (
    BUDGET_SECONDS,
    EPOCH_SLACK,
    MARGIN,
    QUICK_FILE,
    QuickPair,
    derive_plan,
    epoch_prices,
    fit_budget,
    quick_plan,
)
from rnnbench.sweep.report import quick_comparison

REPO = Path(__file__).resolve().parents[2]
ROOTS = ["results/paper-batch1", "results/ablations"]
TIMING = "results/quick"  # the committed quick run that prices the budget


def test_shipped_budget_is_what_the_committed_records_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.report.test_committed_results import tracked_copy

    copy = tracked_copy(tmp_path, *ROOTS, TIMING)
    monkeypatch.chdir(copy)
    shipped = (REPO / "rnnbench" / "sweep" / QUICK_FILE).read_text()
    assert derived_budget(ROOTS) == shipped, "quick.yaml is stale: run results/tables.sh"


def write_run(
    root: Path,
    name: str,
    lr: float,
    seed: int,
    *,
    curve: list[float],
    test: float,
    pair: str = "jsb-gru",
    epoch_seconds: float = 1.0,
) -> None:
    """A finished run record of a headline-protocol pair at (lr, seed), in the real formats."""
    config = config_to_dict(
        load_config(paper_config_dir() / f"{pair}.yaml", [f"optim.lr={lr}", f"seed={seed}"])
    )
    run_dir = root / "runs" / name
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(config))
    dataset, cell = config["data"]["name"], config["model"]["cell"]
    metrics = {"status": "ok", "dataset": dataset, "cell": cell}
    metrics |= {"nll_valid": min(curve), "nll_test": test}
    (run_dir / METRICS_FILE).write_text(json.dumps(metrics))
    with (run_dir / HISTORY_FILE).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_COLUMNS)
        for epoch, value in enumerate(curve, 1):
            writer.writerow([epoch, epoch * epoch_seconds, "", value, lr, 1.0])


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
    assert (pair.lr, pair.max_epochs) == (3e-3, math.ceil(2 * EPOCH_SLACK))
    assert pair.needed_epochs == pair.max_epochs


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


def test_prices_are_seconds_per_epoch_of_the_timing_run(tmp_path: Path) -> None:
    write_run(tmp_path, "g", 1e-3, 0, curve=[9.0, 8.0, 7.5, 7.4], test=7.5, epoch_seconds=2.5)
    write_run(tmp_path, "t", 1e-3, 0, curve=[9.0], test=9.0, pair="musedata-tanh", epoch_seconds=7)
    assert epoch_prices(tmp_path) == {("jsb", "gru"): 2.5, ("musedata", "tanh"): 7.0}


def budget_pair(dataset: str, needed: int, seconds: float, reach: int = 1) -> QuickPair:
    return QuickPair(
        dataset=dataset,
        cell="gru",
        lr=1e-3,
        max_epochs=needed,
        needed_epochs=needed,
        reach_epochs=reach,
        epoch_seconds=seconds,
        reference_test=8.0,
        reference_runs=1,
        reference_lrs=1,
    )


def test_budget_goes_to_the_cheapest_pairs_first_and_the_rest_share_what_is_left() -> None:
    pairs = [
        budget_pair("dear", needed=50, seconds=6.0),  # 300 s: does not fit
        budget_pair("cheap", needed=10, seconds=1.0),  # 10 s
        budget_pair("middle", needed=40, seconds=2.0),  # 80 s
        budget_pair("dearer", needed=100, seconds=5.0),  # 500 s: does not fit
    ]
    fitted = {pair.dataset: pair for pair in fit_budget(pairs, budget=150.0)}
    assert [pair.dataset for pair in fit_budget(pairs, 150.0)] == [
        "dear",
        "cheap",
        "middle",
        "dearer",
    ]
    assert fitted["cheap"].max_epochs == 10 and fitted["middle"].max_epochs == 40
    # 60 s left, 30 s each: 5 epochs of the 6-second pair, 6 of the 5-second one
    assert (fitted["dear"].max_epochs, fitted["dearer"].max_epochs) == (5, 6)
    assert all(pair.needed_epochs == before.needed_epochs for pair, before in zip(
        fit_budget(pairs, 150.0), pairs, strict=True))  # fmt: skip
    assert fit_budget(pairs, budget=1e9) == pairs  # everything fits: nothing cut
    starved = fit_budget(pairs, budget=0.0)
    assert all(pair.max_epochs == 1 for pair in starved)  # at least one epoch each


def test_a_share_that_cannot_reach_the_tolerance_goes_to_the_next_pair() -> None:
    pairs = [
        budget_pair("cheap", needed=10, seconds=1.0),  # 10 s
        budget_pair("hopeless", needed=50, seconds=6.0, reach=20),  # 30 s would buy 5 of 20
        budget_pair("dearer", needed=100, seconds=5.0, reach=8),
    ]
    fitted = {pair.dataset: pair for pair in fit_budget(pairs, budget=70.0)}
    assert fitted["cheap"].max_epochs == 10
    assert fitted["hopeless"].max_epochs == 1  # a token epoch: its row says it was cut
    assert fitted["dearer"].max_epochs == 10  # (70 - 10 - 6) / 5 s: past its reach of 8


def test_the_token_epoch_of_a_cut_pair_is_held_back_from_the_budget() -> None:
    # 796 s of the cheaper pair would leave 4 s, less than the one 5.5-s epoch the dearer pair
    # runs even when cut: before the fix that epoch was spent anyway, 801.5 s of an 800-s budget
    pairs = [
        budget_pair("cheap", needed=199, seconds=4.0),  # 796 s
        budget_pair("cut", needed=150, seconds=5.5, reach=100),  # 825 s: cannot fit
    ]
    fitted = {pair.dataset: pair for pair in fit_budget(pairs, budget=800.0)}
    assert fitted["cut"].max_epochs == 1
    assert fitted["cheap"].max_epochs < 199  # not funded in full: that leaves no epoch for "cut"
    assert sum(pair.max_epochs * pair.epoch_seconds for pair in fitted.values()) <= 800.0


def test_shipped_budget_fits_and_the_dearest_pairs_start_first() -> None:
    plan = quick_plan()
    cost = {key: pair.max_epochs * pair.epoch_seconds for key, pair in plan.items()}
    assert sum(cost.values()) <= BUDGET_SECONDS
    assert all(pair.max_epochs <= pair.needed_epochs for pair in plan.values())
    trials = materialize(reproduce_spec(None, None, quick=True))
    costs = [cost[(trial.dataset, trial.cell)] for trial in trials]
    assert len(trials) == 12 and costs == sorted(costs, reverse=True)


def test_a_pair_cut_by_the_budget_says_so() -> None:
    cut = [pair for pair in quick_plan().values() if pair.max_epochs < pair.needed_epochs]
    if not cut:
        pytest.skip("every pair fits the shipped budget")
    pair = cut[0]
    row = {"dataset": pair.dataset, "cell": pair.cell, "nll_test": pair.reference_test + 2.0}
    rows = pd.DataFrame([row, row | {"epochs": 3}])  # without the column: the budget
    headers, cells = quick_comparison(rows)
    verdicts = [line[headers.index("verdict")] for line in cells]
    assert verdicts == [
        f"not reached in the quick budget ({epochs} of the {pair.needed_epochs} epochs it needs)"
        for epochs in (pair.max_epochs, 3)
    ]

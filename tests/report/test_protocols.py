"""A protocol is a unit: compare pools runs, and chooses a learning rate among them, only within one
protocol (the config less lr and seed) and one source (the results dir the runs were written
into); a user's runs go to runs/, out of the committed tree; the gate refuses runs of another
protocol than its baseline's. Real run records: tiny models trained on JSB, the committed records,
and records written in the real format (conftest.make_run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app

from .conftest import MakeRun

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "configs" / "ci" / "jsb-gru.yaml")


def train(data_dir: Path, lr: float, *arguments: str) -> None:
    """A real GRU run on the first 6 JSB sequences: 4 units, one epoch."""
    overrides = {
        "data.data_dir": data_dir, "data.max_sequences": 6, "model.hidden_size": 4,
        "train.max_epochs": 1, "optim.lr": lr,
    }  # fmt: skip
    sets = [part for key, value in overrides.items() for part in ("--set", f"{key}={value}")]
    result = CliRunner().invoke(app, ["train", CONFIG, *sets, *arguments])
    assert result.exit_code == 0, result.output


def compare_rows(*arguments: str | Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["compare", *map(str, arguments), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def by_variant(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["variant"]: row for row in rows}


# A user's run beside the reference tree ---------------------------------------------------------


def test_a_users_run_goes_to_runs_and_never_joins_the_reference_rows(
    data_dir_all: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for lr in (1e-3, 3e-3):  # the reference: a two-rate search committed under results/paper
        train(data_dir_all, lr, "--results-dir", "results/paper")
    reference = compare_rows("results")
    train(data_dir_all, 2e-3)  # the user's run, same protocol, default place
    (user_run,) = (tmp_path / "runs" / "train").iterdir()
    assert len(list((tmp_path / "results" / "paper" / "runs").iterdir())) == 2
    assert compare_rows("results") == reference  # the reference tree prints what it printed
    rows = by_variant(compare_rows("results", "runs"))
    assert set(rows) == {"paper", "paper, source=runs/train"}
    assert rows["paper"] == by_variant(reference)["paper"]
    mine = rows["paper, source=runs/train"]
    assert (mine["lr"], mine["n_settings"], mine["n_total"]) == (2e-3, 1, 1)
    assert mine["source"] == "runs/train" and mine["best_run"] == str(user_run.resolve())


def test_a_quick_run_beside_a_search_is_labelled_by_what_differs(
    make_run: MakeRun, tmp_path: Path
) -> None:
    for lr in (1e-4, 1e-3, 1e-2):
        make_run(lr=lr, nll_valid=8.0 + abs(lr - 1e-3), nll_test=8.5)
    make_run(lr=1e-3, nll_valid=7.0, nll_test=7.5, max_epochs=10)  # better, but another protocol
    rows = by_variant(compare_rows(tmp_path / "runs"))
    assert set(rows) == {"paper", "paper, train.max_epochs=10"}
    assert (rows["paper"]["n_settings"], rows["paper"]["nll_test"]) == (3, 8.5)


# A folder of extra learning rates beside a search ----------------------------------------------


def test_extra_learning_rates_in_another_folder_are_a_row_of_their_own(
    make_run: MakeRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    search, extra = tmp_path / "results" / "paper" / "runs", tmp_path / "results" / "lr-above"
    for lr, valid in ((1e-4, 8.4), (1e-3, 8.0), (1e-2, 8.2)):
        make_run(lr=lr, nll_valid=valid, nll_test=valid + 0.5, root=search)
    make_run(lr=3e-2, nll_valid=7.5, nll_test=7.9, root=extra / "runs")  # best valid NLL of all
    monkeypatch.chdir(tmp_path)
    rows = by_variant(compare_rows("results"))
    assert set(rows) == {"paper", "paper, source=results/lr-above"}
    assert (rows["paper"]["lr"], rows["paper"]["n_settings"]) == (1e-3, 3)
    assert rows["paper, source=results/lr-above"]["lr"] == 3e-2
    assert by_variant(compare_rows("results/paper"))["paper"]["lr"] == 1e-3


def test_two_folders_with_the_same_difference_also_name_their_source(
    make_run: MakeRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two batch-1 folders beside a batch-8 search: each keeps its own row (the config difference
    alone would have pooled them again)."""
    for lr in (1e-4, 1e-3):
        make_run(lr=lr, root=tmp_path / "search" / "runs", max_epochs=500)
    for folder in ("one", "two"):
        make_run(lr=1e-3, root=tmp_path / folder / "runs", max_epochs=50)
    monkeypatch.chdir(tmp_path)
    rows = by_variant(compare_rows("search", "one", "two"))
    assert set(rows) == {
        "paper",
        "paper, train.max_epochs=50, source=one",
        "paper, train.max_epochs=50, source=two",
    }


def test_committed_extra_learning_rates_stay_out_of_the_papers_search() -> None:
    """`compare results/paper results/lr-above-range` used to count the extra rates into the
    search (MuseData tanh: lrs 11, one run); the paper's rows are now those of results/paper."""
    paper, extra = REPO / "results" / "paper", REPO / "results" / "lr-above-range"
    rows = compare_rows(paper, extra)
    plain = [row for row in rows if row["variant"] == "paper"]
    assert plain == compare_rows(paper)
    labelled = {(row["dataset"], row["cell"]): row for row in rows if row["variant"] != "paper"}
    assert set(labelled) == {("musedata", "tanh"), ("nottingham", "gru"), ("piano-midi", "lstm")}
    for (dataset, cell), row in labelled.items():
        assert row["variant"] == f"paper, source={row['source']}"
        assert row["source"].endswith(f"lr-above-range/{dataset}-{cell}")
    tanh = next(row for row in plain if (row["dataset"], row["cell"]) == ("musedata", "tanh"))
    assert (tanh["n_settings"], tanh["n_runs"], round(tanh["nll_test"], 3)) == (10, 5, 7.885)


# The gate compares like with like --------------------------------------------------------------


def write_suite(make_run: MakeRun, root: Path, nll_shift: float = 0.0, **options: Any) -> Path:
    for cell, test in (("tanh", 9.0), ("gru", 8.5), ("lstm", 8.7)):
        make_run("jsb", cell, nll_test=test + nll_shift, root=root, **options)
    return root


def gate(*arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["compare", *map(str, arguments), "--format", "json"])
    return result.exit_code, result.stdout, result.stderr


def test_the_baseline_records_each_rows_protocol(make_run: MakeRun, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, _, stderr = gate(write_suite(make_run, tmp_path / "base"), "--save-baseline", baseline)
    assert code == 0, stderr
    for row in json.loads(baseline.read_text())["rows"]:
        protocol = row["protocol"]
        assert protocol["optim.lr"] == 1e-3 and protocol["train.max_epochs"] == 500
        assert "seed" not in protocol and "train.num_threads" not in protocol
        assert len(row["protocol_hash"]) == 12


def test_the_gate_refuses_runs_of_another_protocol(make_run: MakeRun, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert gate(write_suite(make_run, tmp_path / "base"), "--save-baseline", baseline)[0] == 0
    quick = write_suite(make_run, tmp_path / "quick", nll_shift=1.5, max_epochs=10)
    code, stdout, stderr = gate(quick, "--baseline", baseline)
    assert code == 2 and stdout == ""
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"error: {baseline}: the runs of jsb/gru/paper, jsb/lstm/paper, jsb/")
    assert "(train.max_epochs: 500 -> 10)" in line and "REGRESSED" not in stderr
    worse = write_suite(make_run, tmp_path / "worse", nll_shift=0.3)  # same protocol: a regression
    code, _, stderr = gate(worse, "--baseline", baseline)
    assert code == 1 and stderr.count("REGRESSED") == 3
    assert "protocols: same protocol as the baseline" in stderr


def test_a_baseline_without_protocols_is_still_gated(make_run: MakeRun, tmp_path: Path) -> None:
    """Baselines written before protocols were recorded (configs/ci/baseline.json was one) gate as
    they did, and say that protocols were not checked."""
    baseline = tmp_path / "baseline.json"
    assert gate(write_suite(make_run, tmp_path / "base"), "--save-baseline", baseline)[0] == 0
    data = json.loads(baseline.read_text())
    for row in data["rows"]:
        for name in ("protocol", "protocol_hash", "nll_test_seqmean"):
            row.pop(name)
    baseline.write_text(json.dumps(data))
    same = write_suite(make_run, tmp_path / "same", max_epochs=10)
    code, _, stderr = gate(same, "--baseline", baseline)
    assert code == 0, stderr
    assert "the baseline records no protocols (written before they were): not checked" in stderr
    code, _, stderr = gate(same, "--baseline", baseline, "--average", "seqmean")
    (line,) = stderr.strip().splitlines()
    assert code == 2 and "cannot gate jsb/tanh/paper on nll_test_seqmean" in line

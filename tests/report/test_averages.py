"""Both NLL averages: pooled over a split's frames and the mean over its pieces. The trainer writes
both; compare computes the per-piece mean of older records from per_sequence.csv, shows both test
columns, and `--average` picks which one chooses the learning rate, the interval, the paired
bootstrap and the delta to the paper."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import METRICS_FILE, PER_SEQUENCE_FILE, SPLITS, read_metrics
from rnnbench.report import load_runs

from .conftest import TEST_FRAMES, MakeRun

REPO = Path(__file__).resolve().parents[2]


def run_json(*arguments: str | Path) -> Any:
    result = CliRunner().invoke(app, ["compare", *map(str, arguments), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def piece_means(run_dir: Path) -> dict[str, float]:
    """The per-piece mean of each split, by hand from per_sequence.csv."""
    per_frame: dict[str, list[float]] = {split: [] for split in SPLITS}
    with (run_dir / PER_SEQUENCE_FILE).open(newline="") as handle:
        for row in csv.DictReader(handle):
            per_frame[row["split"]].append(float(row["nll_sum"]) / int(row["frames"]))
    return {split: math.fsum(values) / len(values) for split, values in per_frame.items() if values}


def test_the_trainer_writes_both_and_compare_computes_the_same_for_older_records(
    data_dir_all: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "gru"
    sets = {
        "data.data_dir": data_dir_all, "data.max_sequences": 8, "model.hidden_size": 4,
        "train.max_epochs": 1,
    }  # fmt: skip
    arguments = [part for key, value in sets.items() for part in ("--set", f"{key}={value}")]
    config = str(REPO / "configs" / "ci" / "jsb-gru.yaml")
    result = CliRunner().invoke(app, ["train", config, *arguments, "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    written = read_metrics(run_dir)
    by_hand = piece_means(run_dir)
    for split in SPLITS:
        value = getattr(written, f"nll_{split}_seqmean")
        assert value is not None and math.isclose(value, by_hand[split], rel_tol=1e-12)
        assert not math.isclose(value, getattr(written, f"nll_{split}"), rel_tol=1e-6)
    new = load_runs([run_dir]).iloc[0]
    record = json.loads((run_dir / METRICS_FILE).read_text())
    for split in SPLITS:  # the record as written before the fields existed
        del record[f"nll_{split}_seqmean"]
    (run_dir / METRICS_FILE).write_text(json.dumps(record))
    old = load_runs([run_dir]).iloc[0]
    for split in SPLITS:
        name = f"nll_{split}_seqmean"
        assert old[name] == new[name] == getattr(written, name)  # exactly: one function, one sum


def test_committed_records_get_the_per_piece_mean_from_per_sequence_csv() -> None:
    """The figures issue 15 quotes for the batch-1 MuseData ablations (pooled -> per piece)."""
    rows = run_json(REPO / "results" / "ablations" / "musedata-gru-batch-1")
    (gru,) = rows
    assert round(gru["nll_test"], 3) == 7.529 and round(gru["nll_test_seqmean"], 2) == 6.52
    assert gru["average"] == "pooled" and gru["nll_test_seqmean_ci_low"] is None


def two_rates(make_run: MakeRun, cell: str = "gru", shift: float = 0.0) -> None:
    """lr 1e-3 is best pooled (valid 8.0 vs 8.1), lr 1e-2 best per piece (7.6 vs 7.9)."""
    rising, falling = [0.1 * i for i in range(10)], [-0.1 * i for i in range(10)]
    make_run("jsb", cell, lr=1e-3, nll_valid=8.0 + shift, nll_test=8.5 + shift,
             seqmean=(7.0, 7.9 + shift, 8.4 + shift), deviations=rising)  # fmt: skip
    make_run("jsb", cell, lr=1e-2, nll_valid=8.1 + shift, nll_test=8.6 + shift,
             seqmean=(7.0, 7.6 + shift, 8.2 + shift), deviations=falling)  # fmt: skip


def test_the_average_option_picks_what_chooses_the_rate(make_run: MakeRun, tmp_path: Path) -> None:
    two_rates(make_run)
    (pooled,) = run_json(tmp_path / "runs", "--paper")
    (piece,) = run_json(tmp_path / "runs", "--paper", "--average", "seqmean")
    assert (pooled["average"], pooled["lr"], pooled["nll_test"]) == ("pooled", 1e-3, 8.5)
    assert (piece["average"], piece["lr"], piece["nll_test_seqmean"]) == ("seqmean", 1e-2, 8.2)
    assert math.isclose(piece["delta_nll_test_seqmean"], 8.2 - 8.54)  # the paper's JSB GRU: 8.54
    assert math.isclose(pooled["delta_nll_test"], 8.5 - 8.54)
    result = CliRunner().invoke(
        app, ["compare", str(tmp_path / "runs"), "--format", "markdown", "--average", "seqmean"]
    )
    header = result.stdout.splitlines()[0]
    assert "| piece train | piece valid | test NLL |" in header and "| piece test |" in header


def test_the_paired_bootstrap_follows_the_average(make_run: MakeRun, tmp_path: Path) -> None:
    two_rates(make_run, "gru")
    two_rates(make_run, "lstm", shift=0.3)
    pairs = {
        average: run_json(tmp_path / "runs", "--stats", "--average", average)["pairs"][0]
        for average in ("pooled", "seqmean")
    }
    assert math.isclose(pairs["pooled"]["difference"], 8.5 - 8.8)  # pooled, lr 1e-3 each
    runs = tmp_path / "runs"
    chosen = {cell: runs.glob(f"jsb-{cell}-paper-lr0.01-*") for cell in ("gru", "lstm")}
    means = {cell: piece_means(run_dir)["test"] for cell, (run_dir,) in chosen.items()}
    assert math.isclose(pairs["seqmean"]["difference"], means["gru"] - means["lstm"])
    assert pairs["seqmean"]["average"] == "seqmean" and len(TEST_FRAMES) == 10


def test_an_unknown_average_is_a_usage_error(make_run: MakeRun, tmp_path: Path) -> None:
    make_run()
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "runs"), "--average", "median"])
    assert result.exit_code == 2
    assert "--average: unknown average 'median'; choose from pooled, seqmean" in result.stderr

"""The regression gate via the CLI: exit 0 when all holds, 1 on regressions, 2 on usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.report.gate import BASELINE_SCHEMA, FINGERPRINT_KEYS

from .conftest import MakeRun

NLL = {"tanh": 9.0, "gru": 8.5, "lstm": 8.7}


def write_suite(
    make_run: MakeRun,
    root: Path,
    *,
    nll_shift: dict[str, float] | None = None,
    speed: dict[str, float] | None = None,
    cells: tuple[str, ...] = ("tanh", "gru", "lstm"),
) -> Path:
    for cell in cells:
        test = NLL.get(cell, 8.6) + (nll_shift or {}).get(cell, 0.0)
        make_run(
            "jsb", cell, nll_test=test, frames_per_s=(speed or {}).get(cell, 5000.0), root=root
        )
    return root


def compare(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["compare", *map(str, args), "--format", "json"])
    return result.exit_code, result.stderr


@pytest.fixture
def baseline(make_run: MakeRun, tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    code, stderr = compare(write_suite(make_run, tmp_path / "base"), "--save-baseline", path)
    assert code == 0, stderr
    return path


def test_saved_baseline_holds_rows_and_fingerprint(baseline: Path) -> None:
    data = json.loads(baseline.read_text())
    assert data["schema"] == BASELINE_SCHEMA
    assert set(FINGERPRINT_KEYS) <= set(data["fingerprint"])
    assert data["fingerprint"]["cpu_cores"] >= 1 and data["fingerprint"]["device"] == "cpu"
    assert sorted(row["cell"] for row in data["rows"]) == ["gru", "lstm", "tanh"]


def test_equal_runs_pass(make_run: MakeRun, tmp_path: Path, baseline: Path) -> None:
    code, stderr = compare(write_suite(make_run, tmp_path / "now"), "--baseline", baseline)
    assert code == 0, stderr
    assert "gate: PASS" in stderr and "throughput compared" in stderr


def test_change_within_tolerance_passes(make_run: MakeRun, tmp_path: Path, baseline: Path) -> None:
    runs = write_suite(make_run, tmp_path / "now", nll_shift={"gru": 0.04}, speed={"lstm": 4000})
    code, stderr = compare(runs, "--baseline", baseline)
    assert code == 0, stderr


def test_nll_regression_fails_and_names_the_cell(
    make_run: MakeRun, tmp_path: Path, baseline: Path
) -> None:
    runs = write_suite(make_run, tmp_path / "now", nll_shift={"gru": 0.10, "tanh": -0.5})
    code, stderr = compare(runs, "--baseline", baseline)
    assert code == 1
    regressed = [line for line in stderr.splitlines() if "REGRESSED" in line]
    assert len(regressed) == 1 and "jsb/gru/paper: test NLL" in regressed[0]
    code, _ = compare(runs, "--baseline", baseline, "--nll-tolerance", "0.2")
    assert code == 0


def test_speed_regression_fails(make_run: MakeRun, tmp_path: Path, baseline: Path) -> None:
    runs = write_suite(make_run, tmp_path / "now", speed={"lstm": 3000.0})
    code, stderr = compare(runs, "--baseline", baseline)
    assert code == 1
    assert "REGRESSED  jsb/lstm/paper: throughput 3,000 frames/s" in stderr


def test_speed_not_compared_across_machines(
    make_run: MakeRun, tmp_path: Path, baseline: Path
) -> None:
    data = json.loads(baseline.read_text())
    data["fingerprint"]["cpu_model"] = "Some Other CPU"
    baseline.write_text(json.dumps(data))
    runs = write_suite(make_run, tmp_path / "now", speed={"lstm": 1000.0})
    code, stderr = compare(runs, "--baseline", baseline)
    assert code == 0, stderr
    assert "fingerprint differs, throughput not compared" in stderr and "Some Other CPU" in stderr
    runs = write_suite(make_run, tmp_path / "worse", nll_shift={"lstm": 0.3})
    assert compare(runs, "--baseline", baseline)[0] == 1  # NLL is still gated


def test_missing_cells_are_reported(make_run: MakeRun, tmp_path: Path, baseline: Path) -> None:
    runs = write_suite(make_run, tmp_path / "now", cells=("tanh", "gru", "mycell"))
    code, stderr = compare(runs, "--baseline", baseline)
    assert code == 1
    assert "MISSING    jsb/lstm/paper" in stderr
    assert "new        jsb/mycell/paper" in stderr


def test_diverged_cell_is_a_regression(make_run: MakeRun, tmp_path: Path, baseline: Path) -> None:
    runs = write_suite(make_run, tmp_path / "now", cells=("tanh", "gru"))
    make_run("jsb", "lstm", status="diverged", nll_train=None, nll_valid=None, nll_test=None,
             root=runs)  # fmt: skip
    code, stderr = compare(runs, "--baseline", baseline)
    assert code == 1 and "jsb/lstm/paper: no finite test NLL" in stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "unreadable baseline"),
        ("{not json", "unreadable baseline"),
        ('{"schema": "other"}', "not an rnnbench baseline"),
        (
            json.dumps({"schema": BASELINE_SCHEMA, "fingerprint": {}, "rows": [{}]}),
            "invalid baseline",
        ),
    ],
    ids=["absent", "not-json", "wrong-schema", "bad-row"],
)
def test_bad_baseline_is_a_usage_error(
    make_run: MakeRun, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    code, stderr = compare(write_suite(make_run, tmp_path / "now"), "--baseline", path)
    assert code == 2 and message in stderr and str(path) in stderr


def test_bad_tolerance_is_a_usage_error(make_run: MakeRun, tmp_path: Path, baseline: Path) -> None:
    runs = write_suite(make_run, tmp_path / "now")
    result = CliRunner().invoke(app, ["compare", str(runs), "--speed-tolerance", "1.5"])
    assert result.exit_code == 2 and "--speed-tolerance 1.5" in result.stderr
    assert result.stdout == ""  # refused before any output


def test_fingerprint_uses_the_threads_the_runs_used(make_run: MakeRun, tmp_path: Path) -> None:
    from rnnbench.records import METRICS_FILE
    from rnnbench.report import aggregate, load_runs, machine_fingerprint

    run_dir = make_run("jsb", "gru")  # config.yaml says train.num_threads: 1
    rows = aggregate(load_runs([run_dir])).rows
    assert machine_fingerprint(rows)["torch_threads"] == "1"
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    (run_dir / METRICS_FILE).write_text(json.dumps({**metrics, "num_threads": 4}))  # extra field
    rows = aggregate(load_runs([run_dir])).rows
    assert machine_fingerprint(rows)["torch_threads"] == "4"

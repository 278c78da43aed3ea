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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("nll_test", "8.5"), 'nll_test must be a finite number, got "8.5"'),
        (("nll_test", None), "nll_test must be a finite number, got null"),
        (("nll_test", ...), "nll_test missing"),
        (("nll_test", True), "nll_test must be a finite number, got true"),
        (("nll_test", float("nan")), "nll_test must be a finite number, got NaN"),
        (("frames_per_s", "fast"), 'frames_per_s must be a finite number, got "fast"'),
        (("frames_per_s", None), "frames_per_s must be a finite number, got null"),
        (("frames_per_s", ...), "frames_per_s missing"),
        (("frames_per_s", 0), "frames_per_s must be > 0, got 0"),
    ],
    ids=[
        "nll-string", "nll-null", "nll-missing", "nll-bool", "nll-nan", "speed-string",
        "speed-null", "speed-missing", "speed-zero",
    ],
)  # fmt: skip
def test_malformed_baseline_row_is_a_usage_error_not_a_pass(
    make_run: MakeRun, tmp_path: Path, baseline: Path, change: tuple[str, object], message: str
) -> None:
    field, value = change
    data = json.loads(baseline.read_text())
    row = data["rows"][1]
    if value is ...:
        del row[field]
    else:
        row[field] = value
    baseline.write_text(json.dumps(data))
    runs = write_suite(make_run, tmp_path / "now", nll_shift={"gru": 1.0})  # a real regression
    result = CliRunner().invoke(
        app, ["compare", str(runs), "-f", "csv", "--baseline", str(baseline)]
    )
    assert result.exit_code == 2 and result.stdout == ""  # refused before any output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0] == f"error: {baseline}: invalid baseline row 1 ({message})"


def test_baseline_with_a_cell_without_finished_runs_gates_against_itself(
    make_run: MakeRun, tmp_path: Path
) -> None:
    """save_baseline writes null NLL and throughput for a group with no finished run (n_runs 0):
    a real saved baseline must load and pass against the runs it came from."""
    runs = write_suite(make_run, tmp_path / "base", cells=("tanh", "gru"))
    make_run("jsb", "lstm", status="diverged", nll_train=None, nll_valid=None, nll_test=None,
             root=runs)  # fmt: skip
    path = tmp_path / "baseline.json"
    assert compare(runs, "--save-baseline", path)[0] == 0
    saved = {row["cell"]: row for row in json.loads(path.read_text())["rows"]}
    assert saved["lstm"]["nll_test"] is None and saved["lstm"]["frames_per_s"] is None
    assert saved["lstm"]["n_runs"] == 0
    code, stderr = compare(runs, "--baseline", path)
    assert code == 0, stderr
    assert "ok         jsb/lstm/paper: no finished run, as in the baseline" in stderr
    assert "gate: PASS" in stderr
    fixed = write_suite(make_run, tmp_path / "fixed")  # lstm now finishes: nothing to regress from
    code, stderr = compare(fixed, "--baseline", path)
    assert code == 0, stderr
    assert "jsb/lstm/paper: test NLL 8.7000, 5,000 frames/s (baseline: no finished run" in stderr


def test_null_nll_with_finished_runs_is_refused(
    make_run: MakeRun, tmp_path: Path, baseline: Path
) -> None:
    data = json.loads(baseline.read_text())
    data["rows"][0]["nll_test"] = None  # n_runs stays 1: a hand-edited or damaged row
    baseline.write_text(json.dumps(data))
    code, stderr = compare(write_suite(make_run, tmp_path / "now"), "--baseline", baseline)
    assert code == 2 and "invalid baseline row 0 (nll_test must be a finite number" in stderr

"""`rnnbench compare` on run records that used to be misread silently: different data under one
dataset name, malformed CSV rows, badly typed metrics and configs, symlinked run dirs, dotted
dataset names in plot files, and baseline files the gate could not fail against."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, PER_SEQUENCE_FILE

from .conftest import MakeRun
from .test_bad_records import one_error_line, replace_line, run_compare, three_cells

REPO = Path(__file__).resolve().parents[2]


def edit_json(path: Path, **changes: Any) -> None:
    """Set (or, for the value ..., delete) top-level fields of a JSON file."""
    data = json.loads(path.read_text())
    for name, value in changes.items():
        if value is ...:
            del data[name]
        else:
            data[name] = value
    path.write_text(json.dumps(data))


# 1. one dataset name, different data -------------------------------------------------------------


def import_songs(tmp_path: Path, name: str, note: int) -> Path:
    """A three-split MIDI dataset imported as `name` into its own data dir; returns the dir."""
    from rnnbench.data.midi import roll_to_midi

    songs = tmp_path / f"songs-{note}"
    roll = np.zeros((8, 88), dtype=np.uint8)
    roll[:4, note] = roll[4:, note + 4] = 1
    for split in ("train", "valid", "test"):
        roll_to_midi(roll, songs / split / "song.mid", steps_per_beat=2)
    data_dir = tmp_path / f"data-{note}"
    result = CliRunner().invoke(
        app, ["data", "import-midi", str(songs), "--name", name, "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    return data_dir


def train_tiny(data_dir: Path, name: str, run_dir: Path) -> None:
    overrides = {
        "data.name": name, "data.data_dir": data_dir, "model.hidden_size": 4,
        "train.max_epochs": 1, "train.batch_size": 1,
    }  # fmt: skip
    sets = [part for key, value in overrides.items() for part in ("--set", f"{key}={value}")]
    config = str(REPO / "configs" / "ci" / "jsb-gru.yaml")
    result = CliRunner().invoke(app, ["train", config, *sets, "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output


def test_runs_on_different_data_under_one_name_are_refused(tmp_path: Path) -> None:
    from rnnbench.data import load

    first, second = import_songs(tmp_path, "mine", 39), import_songs(tmp_path, "mine", 50)
    train_tiny(first, "mine", tmp_path / "runs" / "a")
    train_tiny(second, "mine", tmp_path / "runs" / "b")
    recorded = json.loads((tmp_path / "runs" / "a" / METRICS_FILE).read_text())["data_digest"]
    assert recorded == load("mine", first).digest != load("mine", second).digest
    code, stdout, stderr = run_compare(tmp_path / "runs")
    assert code == 1 and stdout == ""  # the same config hash: once "a repeat", dropped silently
    line = one_error_line(stderr)
    assert "dataset 'mine'" in line and "different data" in line
    assert str(tmp_path / "runs" / "a") in line and str(tmp_path / "runs" / "b") in line


def test_equal_or_unrecorded_digests_still_pool(make_run: MakeRun, tmp_path: Path) -> None:
    runs = [make_run("jsb", "gru", lr=lr) for lr in (1e-4, 1e-3, 1e-2)]
    edit_json(runs[0] / METRICS_FILE, data_digest="sha256:aa")
    edit_json(runs[1] / METRICS_FILE, data_digest="sha256:aa")  # runs[2]: an older record
    code, _, stderr = run_compare(tmp_path / "runs", "--format", "csv")
    assert code == 0, stderr


# 2. history.csv rows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "row", "message"),
    [
        (3, "2,3.0,7.5,8.5,0.001,0.5,9", "line 3: 7 fields, expected 6"),
        (9, "8,12.0,7.2", "line 9: 3 fields, expected 6"),  # a truncated last row
        (5, ",,,,,", "line 5: blank row"),
        (4, "3,4.5,7.5,,0.001,0.5", "line 4: nll_valid is empty"),
    ],
    ids=["extra-field", "truncated", "blank", "empty-valid"],
)
def test_malformed_history_row_names_the_file_and_line(
    make_run: MakeRun, tmp_path: Path, line: int, row: str, message: str
) -> None:
    runs = three_cells(make_run)
    history = runs["gru"] / HISTORY_FILE
    replace_line(history, line, row)
    code, stdout, stderr = run_compare(tmp_path / "runs", "--plot", tmp_path / "plots")
    assert code == 1 and stdout == ""
    error = one_error_line(stderr)
    assert str(history) in error and message in error


# 3. plot file names ------------------------------------------------------------------------------


def test_dotted_dataset_names_get_their_own_plot_files(make_run: MakeRun, tmp_path: Path) -> None:
    for dataset in ("my.a", "my.b", "my c", "my_c"):  # the last two slug alike
        make_run(dataset, "gru")
    code, _, stderr = run_compare(tmp_path / "runs", "--plot", tmp_path / "plots")
    assert code == 0, stderr
    pngs = sorted(path.name for path in (tmp_path / "plots").glob("learning_curves_*.png"))
    assert len(pngs) == 4
    assert "learning_curves_my.a.png" in pngs and "learning_curves_my.b.png" in pngs
    assert sum(name.startswith("learning_curves_my_c_") for name in pngs) == 2


# 4. symlinked run dirs ---------------------------------------------------------------------------


def test_symlinked_run_dirs_are_found_and_cycles_end(make_run: MakeRun, tmp_path: Path) -> None:
    make_run("jsb", "gru", root=tmp_path / "results")
    elsewhere = make_run("jsb", "lstm", root=tmp_path / "elsewhere")
    (tmp_path / "results" / "lstm-link").symlink_to(elsewhere)
    (tmp_path / "results" / "loop").symlink_to(tmp_path / "results")  # a cycle
    code, stdout, stderr = run_compare(tmp_path / "results", "--format", "json")
    assert code == 0, stderr
    assert sorted(row["cell"] for row in json.loads(stdout)) == ["gru", "lstm"]
    assert all(row["n_total"] == 1 for row in json.loads(stdout))  # the loop adds nothing


# 5. config.yaml against the schema ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["4", True, 0], ids=["string", "boolean", "zero"])
def test_invalid_config_field_is_an_error(make_run: MakeRun, tmp_path: Path, value: Any) -> None:
    run_dir = make_run("jsb", "gru")
    config = yaml.safe_load((run_dir / CONFIG_FILE).read_text())
    config["data"]["max_sequences"] = value
    (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(config))
    code, stdout, stderr = run_compare(tmp_path / "runs", "--paper")
    assert code == 1 and stdout == ""
    line = one_error_line(stderr)
    assert str(run_dir / CONFIG_FILE) in line and "invalid config (data.max_sequences:" in line


def test_config_with_custom_cell_and_imported_name_is_valid(
    make_run: MakeRun, tmp_path: Path
) -> None:
    """The dataset's data dir and a custom cell's registration belong to the training machine."""
    make_run("my.songs", "mycell")
    code, _, stderr = run_compare(tmp_path / "runs")
    assert code == 0, stderr


# 6, 9. metrics.json types and values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nll_test": "1.5"}, "nll_test: expected a number, got string"),
        ({"hidden_size": True}, "hidden_size: expected an integer, got boolean"),
        ({"nll_valid": -0.5}, "nll_valid: must be >= 0, got -0.5"),
        ({"nll_test": ...}, "missing field nll_test"),
        ({"status": "done"}, "status: input should be 'ok', 'diverged'"),
    ],
    ids=["string-nll", "boolean-size", "negative-nll", "missing", "unknown-status"],
)
def test_bad_metrics_field_says_what_is_wrong(
    make_run: MakeRun, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    run_dir = make_run("jsb", "gru")
    edit_json(run_dir / METRICS_FILE, **change)
    code, stdout, stderr = run_compare(tmp_path / "runs")
    assert code == 1 and stdout == ""
    line = one_error_line(stderr)
    assert f"{run_dir / METRICS_FILE}: invalid metrics ({message}" in line


def test_diverged_runs_keep_nan_and_null(make_run: MakeRun, tmp_path: Path) -> None:
    make_run("jsb", "gru", status="ok", nll_valid=math.nan, nll_test=math.nan)
    make_run("jsb", "gru", lr=0.1, status="diverged", nll_train=None, nll_valid=None, nll_test=None)
    code, _, stderr = run_compare(tmp_path / "runs")
    assert code == 0, stderr


def test_negative_per_sequence_nll_is_an_error(make_run: MakeRun, tmp_path: Path) -> None:
    runs = three_cells(make_run)
    per_sequence = runs["tanh"] / PER_SEQUENCE_FILE
    replace_line(per_sequence, 6, "test,4,72,-5.0")
    code, _, stderr = run_compare(tmp_path / "runs", "--stats")
    assert code == 1
    line = one_error_line(stderr)
    assert str(per_sequence) in line and "line 6: nll_sum '-5.0' is below 0" in line


# 7, 8. baseline gate and deep JSON ---------------------------------------------------------------


@pytest.fixture
def saved_baseline(make_run: MakeRun, tmp_path: Path) -> Path:
    three_cells(make_run)
    path = tmp_path / "baseline.json"
    code, _, stderr = run_compare(tmp_path / "runs", "--save-baseline", path, "-f", "csv")
    assert code == 0, stderr
    return path


def test_duplicate_baseline_cell_is_an_error(tmp_path: Path, saved_baseline: Path) -> None:
    data = json.loads(saved_baseline.read_text())
    data["rows"].append({**data["rows"][1], "nll_test": 99.0})  # would have won silently
    saved_baseline.write_text(json.dumps(data))
    code, stdout, stderr = run_compare(tmp_path / "runs", "--baseline", saved_baseline)
    assert code == 2 and stdout == ""
    line = one_error_line(stderr)
    assert f"{saved_baseline}: invalid baseline row 3 (repeats the cell" in line
    assert "of row 1)" in line


@pytest.mark.parametrize("tolerance", ["inf", "nan", "-0.1"])
def test_tolerance_that_never_fails_is_a_usage_error(
    tmp_path: Path, saved_baseline: Path, tolerance: str
) -> None:
    code, stdout, stderr = run_compare(
        tmp_path / "runs", "--baseline", saved_baseline, "--nll-tolerance", tolerance
    )
    assert code == 2 and stdout == ""
    assert "--nll-tolerance" in one_error_line(stderr)


def test_deeply_nested_json_is_a_one_line_error(
    make_run: MakeRun, tmp_path: Path, saved_baseline: Path
) -> None:
    saved_baseline.write_text("[" * 200_000)
    code, _, stderr = run_compare(tmp_path / "runs", "--baseline", saved_baseline)
    assert code == 2 and str(saved_baseline) in one_error_line(stderr)
    metrics = make_run("jsb", "gru") / METRICS_FILE
    metrics.write_text("[" * 200_000)
    code, _, stderr = run_compare(tmp_path / "runs")
    assert code == 1 and str(metrics) in one_error_line(stderr)

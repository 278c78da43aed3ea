"""`rnnbench compare` on corrupted run records: one error line naming the file, never a traceback,
never a silently different table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import CONFIG_FILE, HISTORY_FILE, PER_SEQUENCE_FILE

from .conftest import MakeRun


def run_compare(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["compare", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    """The only stderr line, an `error: ...` (no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def replace_line(path: Path, number: int, text: str) -> None:
    """Overwrite line `number` (1-based, the header is line 1) of a text file."""
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def three_cells(make_run: MakeRun) -> dict[str, Path]:
    return {
        cell: make_run("jsb", cell, nll_test=test, deviations=[0.1 * i for i in range(10)])
        for cell, test in (("tanh", 9.0), ("gru", 8.5), ("lstm", 8.7))
    }


# history.csv (read for --plot) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1,abc,x,y,z,w", "line 2: wall_time_s 'abc' is not a number"),
        ("1,1.5,7.0,8.0,0.001,inf", "line 2: grad_norm 'inf' is not finite"),
    ],
    ids=["text", "infinite"],
)
def test_bad_history_value_names_the_file_and_line(
    make_run: MakeRun, tmp_path: Path, row: str, message: str
) -> None:
    runs = three_cells(make_run)
    history = runs["gru"] / HISTORY_FILE
    replace_line(history, 2, row)
    code, stdout, stderr = run_compare(tmp_path / "runs", "--plot", tmp_path / "plots")
    assert code == 1
    line = one_error_line(stderr)
    assert str(history) in line and message in line
    assert stdout == ""  # found before the table was printed
    assert not (tmp_path / "plots").exists()


def test_history_with_skipped_training_nll_still_plots(make_run: MakeRun, tmp_path: Path) -> None:
    runs = three_cells(make_run)
    replace_line(runs["gru"] / HISTORY_FILE, 3, "2,3.0,,8.5,0.001,0.5")  # nll_train not evaluated
    code, _, stderr = run_compare(tmp_path / "runs", "--plot", tmp_path / "plots")
    assert code == 0, stderr
    assert (tmp_path / "plots" / "learning_curves_jsb.png").is_file()


# per_sequence.csv (read for --stats) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("test,4,72,abc", "line 6: nll_sum 'abc' is not a number"),
        ("test,4,72,", "line 6: nll_sum is empty"),
        ("test,4,72,nan", "line 6: nll_sum is empty"),
        ("test,4,72,inf", "line 6: nll_sum 'inf' is not finite"),
        ("test,x4,72,500.0", "line 6: index 'x4' is not a number"),
        ("test,4.5,72,500.0", "line 6: index '4.5' is not a whole number"),
        ("test,-4,72,500.0", "line 6: index '-4' is below 0"),
        ("test,4,abc,500.0", "line 6: frames 'abc' is not a number"),
        ("test,4,0,500.0", "line 6: frames '0' is below 1"),
        ("test,3,72,500.0", "duplicate sequence index 3 in split 'test'"),
    ],
    ids=[
        "text-nll", "empty-nll", "nan-nll", "inf-nll", "text-index", "fractional-index",
        "negative-index", "text-frames", "zero-frames", "duplicate-index",
    ],
)  # fmt: skip
def test_bad_per_sequence_value_names_the_file_and_line(
    make_run: MakeRun, tmp_path: Path, row: str, message: str
) -> None:
    runs = three_cells(make_run)
    per_sequence = runs["lstm"] / PER_SEQUENCE_FILE
    replace_line(per_sequence, 6, row)  # test sequence 4
    code, stdout, stderr = run_compare(tmp_path / "runs", "--stats")
    assert code == 1 and stdout == ""
    line = one_error_line(stderr)
    assert str(per_sequence) in line and message in line


def test_train_rows_are_not_checked_for_test_statistics(make_run: MakeRun, tmp_path: Path) -> None:
    runs = three_cells(make_run)
    per_sequence = runs["gru"] / PER_SEQUENCE_FILE
    with per_sequence.open("a") as handle:
        handle.write("train,0,50,\n")  # the paired bootstrap reads the test split only
    code, _, stderr = run_compare(tmp_path / "runs", "--stats")
    assert code == 0, stderr


def test_renumbered_test_sequence_names_both_files(make_run: MakeRun, tmp_path: Path) -> None:
    runs = three_cells(make_run)
    replace_line(runs["gru"] / PER_SEQUENCE_FILE, 6, "test,40,72,500.0")  # valid, but another one
    code, _, stderr = run_compare(tmp_path / "runs", "--stats")
    assert code == 1
    line = one_error_line(stderr)
    assert "tested on different sequences" in line and "index 4 in only one" in line
    assert str(runs["gru"] / PER_SEQUENCE_FILE) in line
    assert str(runs["lstm"] / PER_SEQUENCE_FILE) in line  # GRU − LSTM is the first pair


def test_different_frame_counts_name_the_sequence(make_run: MakeRun, tmp_path: Path) -> None:
    runs = three_cells(make_run)
    replace_line(runs["tanh"] / PER_SEQUENCE_FILE, 6, "test,4,73,500.0")  # 72 frames elsewhere
    code, _, stderr = run_compare(tmp_path / "runs", "--stats")
    assert code == 1
    line = one_error_line(stderr)
    assert "sequence 4 has" in line and "73" in line and "72" in line


# config.yaml -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"seed: [\n", "config.yaml: unreadable config (YAML syntax error"),
        (b"\xff\xfe\x00garbage", "config.yaml: unreadable config (not UTF-8 text)"),
        (b"- 1\n- 2\n", "config.yaml: invalid config (expected a mapping at the top level)"),
        (b"", "config.yaml: invalid config (expected a mapping at the top level)"),
    ],
    ids=["bad-yaml", "not-utf8", "a-list", "empty"],
)
def test_corrupt_config_is_an_error_not_a_relabelled_run(
    make_run: MakeRun, tmp_path: Path, content: bytes, message: str
) -> None:
    for lr in (1e-4, 1e-3, 1e-2):
        make_run("jsb", "gru", lr=lr)
    corrupt = make_run("jsb", "gru", lr=3e-3)
    (corrupt / CONFIG_FILE).write_bytes(content)
    code, stdout, stderr = run_compare(tmp_path / "runs", "--format", "csv")
    assert code == 1 and stdout == ""
    line = one_error_line(stderr)
    assert str(corrupt / CONFIG_FILE) in line and message in line


def test_config_that_is_a_directory_is_an_error(make_run: MakeRun, tmp_path: Path) -> None:
    run_dir = make_run("jsb", "gru")
    (run_dir / CONFIG_FILE).unlink()
    (run_dir / CONFIG_FILE).mkdir()
    code, _, stderr = run_compare(run_dir)
    assert code == 1
    assert str(run_dir / CONFIG_FILE) in one_error_line(stderr)


def test_runs_without_config_are_still_compared(make_run: MakeRun, tmp_path: Path) -> None:
    """Older records have no config.yaml: the setting comes from metrics.json (not an error)."""
    for lr in (1e-4, 1e-3, 1e-2):
        (make_run("jsb", "gru", lr=lr) / CONFIG_FILE).unlink()
    code, stdout, stderr = run_compare(tmp_path / "runs", "--format", "csv")
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [(row["variant"], row["n_settings"], row["n_runs"]) for row in rows] == [
        ("paper", "3", "1")
    ]


def test_a_run_copied_within_one_results_dir_is_counted_once(
    make_run: MakeRun, tmp_path: Path
) -> None:
    """The same config (same hash, seed included) found twice in one source is one run, not two
    seeds."""
    import shutil

    runs = three_cells(make_run)
    copy = tmp_path / "runs" / "gru-copy"
    shutil.copytree(runs["gru"], copy)
    code, stdout, stderr = run_compare(tmp_path / "runs", "--format", "json")
    assert code == 0, stderr
    gru = [row for row in json.loads(stdout) if row["cell"] == "gru"]
    assert len(gru) == 1 and gru[0]["n_runs"] == 1 and gru[0]["n_total"] == 1
    assert "note: 1 run record(s) repeat another's config" in stderr
    assert str(copy) in stderr or str(runs["gru"]) in stderr


def test_a_run_copied_into_another_results_dir_is_a_row_of_its_own(
    make_run: MakeRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy in another source is neither pooled with the original nor dropped: each source's
    rows stay as they are, and the copy's row names its source."""
    import shutil

    runs = three_cells(make_run)
    shutil.copytree(runs["gru"], tmp_path / "elsewhere" / "runs" / runs["gru"].name)
    monkeypatch.chdir(tmp_path)  # sources are named relative to the working directory
    code, stdout, stderr = run_compare(
        tmp_path / "runs", tmp_path / "elsewhere", "--format", "json"
    )
    assert code == 0, stderr
    gru = {row["variant"]: row for row in json.loads(stdout) if row["cell"] == "gru"}
    assert set(gru) == {"paper", "paper, source=elsewhere"}
    assert all(row["n_runs"] == 1 and row["n_total"] == 1 for row in gru.values())
    assert "repeat another's config" not in stderr

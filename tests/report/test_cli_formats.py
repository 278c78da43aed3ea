"""`rnnbench compare` output formats, each parsed back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.report.formats import FORMATS

from .conftest import MakeRun

REQUIRED = (
    "dataset", "cell", "variant", "hidden_size", "params_recurrent", "params_total", "lr",
    "nll_train", "nll_valid", "nll_test", "wall_time_s", "epochs", "n_runs", "n_diverged",
    "frames_per_s", "nll_test_std", "nll_test_ci_low", "nll_test_ci_high",
)  # fmt: skip


def run_compare(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["compare", *args])
    return result.exit_code, result.stdout, result.stderr


def markdown_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert set(lines[1].replace("|", "")) <= set("-: ")  # the separator row
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def latex_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    assert lines[0].startswith(r"\begin{tabular}{") and lines[-1] == r"\end{tabular}"
    body = lines[lines.index(r"\toprule") + 1 : lines.index(r"\bottomrule")]
    return [line.removesuffix(r" \\").split(" & ") for line in body if line != r"\midrule"]


def test_json_rows_have_the_documented_fields(paper_suite: Path) -> None:
    code, stdout, _ = run_compare(str(paper_suite), "--format", "json", "--paper")
    assert code == 0
    rows = json.loads(stdout)
    assert [row["cell"] for row in rows] == ["tanh", "gru", "lstm"]
    for row in rows:
        assert set(REQUIRED) <= set(row)
        assert row["n_runs"] == 3 and row["n_diverged"] == 1
        assert row["paper_nll_test"] == {"tanh": 9.10, "gru": 8.54, "lstm": 8.67}[row["cell"]]
        assert row["delta_nll_test"] == pytest.approx(row["nll_test"] - row["paper_nll_test"])


def test_csv_parses_with_pandas(paper_suite: Path) -> None:
    code, stdout, _ = run_compare(str(paper_suite), "--format", "csv")
    assert code == 0
    table = pd.read_csv(io.StringIO(stdout))
    assert set(REQUIRED) <= set(table.columns) and len(table) == 3
    assert "paper_nll_test" not in table.columns  # only with --paper


@pytest.mark.parametrize("parse", [markdown_rows, latex_rows], ids=["markdown", "latex"])
def test_human_formats_parse_into_rectangular_tables(paper_suite: Path, parse: object) -> None:
    output_format = "markdown" if parse is markdown_rows else "latex"
    code, stdout, _ = run_compare(str(paper_suite), "--format", output_format, "--paper")
    assert code == 0
    rows = parse(stdout)  # type: ignore[operator]
    header, body = rows[0], [row for row in rows[1:] if not set("".join(row)) <= set("-:| ")]
    assert len(body) == 3 and all(len(row) == len(header) for row in body)
    cells = [row[header.index("cell")] for row in body]
    assert cells == ["tanh", "gru", "lstm"]
    paper_column = "paper test"
    assert [row[header.index(paper_column)] for row in body] == ["9.10", "8.54", "8.67"]
    # 4 learning rates each (one diverged): a partially finished search is visible as such
    assert [row[header.index("lrs")] for row in body] == ["4", "4", "4"]


@pytest.mark.parametrize("output_format", FORMATS)
def test_every_format_renders(paper_suite: Path, output_format: str) -> None:
    code, stdout, stderr = run_compare(str(paper_suite), "--format", output_format)
    assert code == 0, stderr
    assert "gru" in stdout and "lstm" in stdout and "tanh" in stdout


def test_stats_json_holds_rows_and_pairs(paper_suite: Path) -> None:
    code, stdout, _ = run_compare(str(paper_suite), "--format", "json", "--stats")
    assert code == 0
    document = json.loads(stdout)
    assert len(document["rows"]) == 3
    pairs = [(pair["cell_a"], pair["cell_b"]) for pair in document["pairs"]]
    assert pairs == [("gru", "lstm"), ("gru", "tanh"), ("lstm", "tanh")]
    for pair in document["pairs"]:
        assert pair["ci_low"] <= pair["difference"] <= pair["ci_high"]


def test_stats_markdown_prints_two_tables(paper_suite: Path) -> None:
    code, stdout, _ = run_compare(str(paper_suite), "--format", "markdown", "--stats")
    assert code == 0
    tables = stdout.strip().split("\n\n")
    assert len(tables) == 2
    assert markdown_rows(tables[1])[0][:3] == ["dataset", "variant", "A − B"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "yaml"], "unknown format"),
        (["--format", "csv", "--stats"], "--stats needs"),
    ],
)
def test_usage_errors_exit_2(paper_suite: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = run_compare(str(paper_suite), *args)
    assert code == 2 and message in stderr and stdout == ""


def test_no_runs_exit_2(tmp_path: Path) -> None:
    code, _, stderr = run_compare(str(tmp_path))
    assert code == 2 and "no runs found" in stderr


def test_interrupted_column_only_when_a_run_was_interrupted(
    paper_suite: Path, make_run: MakeRun
) -> None:
    header = markdown_rows(run_compare(str(paper_suite), "--format", "markdown")[1])[0]
    assert "interrupted" not in header
    make_run("jsb", "gru", lr=1e-5, status="interrupted")
    header = markdown_rows(run_compare(str(paper_suite), "--format", "markdown")[1])[0]
    assert "interrupted" in header


def test_latex_escapes_pairs_table(paper_suite: Path) -> None:
    code, stdout, _ = run_compare(str(paper_suite), "--format", "latex", "--stats")
    assert code == 0
    assert "−" not in stdout and "gru $-$ lstm" in stdout
    assert stdout.count(r"\begin{tabular}") == 2


def test_stats_without_pairs_says_so(make_run: MakeRun, tmp_path: Path) -> None:
    make_run("jsb", "gru")
    code, _, stderr = run_compare(str(tmp_path / "runs"), "--stats")
    assert code == 0 and "no dataset has two cells" in stderr

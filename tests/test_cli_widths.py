"""Every Rich table the CLI draws, in a terminal 80 and 120 columns wide: no number is cut short
(no '…', every figure whole), and a table that can fit the terminal does. The terminal is real as
far as rich can tell: TTY_COMPATIBLE=1 makes the consoles treat the captured stream as one, and
COLUMNS sets its width."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from rnnbench.cli import app
from rnnbench.cli.sweep import render_progress
from rnnbench.sweep.progress import SweepProgress
from rnnbench.sweep.worker import TrialOutcome
from tests.sweep.helpers import make_trial

REPO = Path(__file__).resolve().parents[1]
WIDTHS = (80, 120)
RESULTS = (str(REPO / "results" / "paper"), str(REPO / "results" / "lr-above-range"))


def in_terminal(width: int, *arguments: str) -> Result:
    environment = {"COLUMNS": str(width), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(arguments), env=environment)
    assert result.exit_code == 0, result.output
    return result


def assert_whole(text: str, figures: list[str], width: int | None = None) -> None:
    """No ellipsis, every figure printed whole, and (where given) no table wider than `width`
    (a table: the lines holding a box-drawing character, all lines of one drawn without a box; a
    line of text such as a dataset's digest may run on)."""
    assert "…" not in text
    missing = [figure for figure in figures if figure not in text]
    assert not missing, f"cut or missing: {missing[:5]}"
    if width is not None:
        lines = text.splitlines()
        drawn = [line for line in lines if any("─" <= c <= "╿" for c in line)] or lines
        assert max(map(len, drawn)) <= width


@pytest.fixture(scope="module")
def compared() -> dict[str, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["compare", *RESULTS, "--paper", "--stats", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, list[dict[str, object]]] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_shows_both_averages_whole(
    compared: dict[str, list[dict[str, object]]], width: int
) -> None:
    result = in_terminal(width, "compare", *RESULTS, "--paper", "--stats")
    figures = [f"{row['nll_test']:.3f}" for row in compared["rows"]]
    figures += [f"{row['nll_test_seqmean']:.3f}" for row in compared["rows"]]
    figures += [f"{pair['difference']:+.3f}" for pair in compared["pairs"]]
    figures += [f"{row['delta_nll_test']:+.3f}" for row in compared["rows"]]
    if width >= 120:
        figures += [f"{row['params_recurrent']:,}" for row in compared["rows"]]
        figures += [f"{row['wall_time_s']:,.1f}" for row in compared["rows"]]
        assert "hidden at this width" not in result.stderr
    else:
        assert "note: params, wall (s) hidden at this width; --wide" in result.stderr
    assert_whole(result.stdout, figures, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_wide_keeps_every_column_whole(
    compared: dict[str, list[dict[str, object]]], width: int
) -> None:
    result = in_terminal(width, "compare", *RESULTS, "--paper", "--wide")
    figures = [f"{row['lr']:.2e}" for row in compared["rows"]]
    figures += [f"{row['frames_per_s']:,.0f}" for row in compared["rows"]]
    assert_whole(result.stdout, figures)  # wider than the terminal: drawn whole, not cropped
    assert "runs used/all" in result.stdout and "piece ±95%" in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_data_tables_fit(data_dir_all: Path, width: int) -> None:
    listed = in_terminal(width, "data", "list", "--data-dir", str(data_dir_all))
    assert_whole(listed.stdout, ["229/76/77", "23,134", "392,296"], width)
    info = in_terminal(width, "data", "info", "piano-midi", "--data-dir", str(data_dir_all))
    assert_whole(info.stdout, ["75,911", "872.54", "3,857", "3.044"], width)


@pytest.mark.parametrize("width", WIDTHS)
def test_bench_table_fits(width: int) -> None:
    tiny = ["--batch", "2", "--seq-len", "5", "--repeats", "1", "--warmup", "0", "--threads", "1"]
    result = in_terminal(width, "bench", "--cells", "gru", *tiny)
    measured = json.loads(
        CliRunner().invoke(app, ["bench", "--cells", "gru", *tiny, "--format", "json"]).stdout
    )
    assert_whole(result.stdout, [f"{row['hidden_size']}" for row in measured["rows"]], width)
    assert "torch-cell-loop" in result.stdout and "× torch-fused" in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_progress_and_summary_fit(
    data_dir_all: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    progress = SweepProgress(total=3, slots=1)
    progress.record(make_trial("0123456789ab", lr=1.234e-3), TrialOutcome("a", "ok", 10.25, 3, 60))
    progress.running["b"] = make_trial("b")
    console = Console(record=True, width=width)
    console.print(render_progress(progress, elapsed_s=75.0))
    assert_whole(console.export_text(), ["10.250", "0.00123", "0123456789ab"], width)

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    sets = {"data.data_dir": data_dir_all, "data.max_sequences": 6, "model.hidden_size": 4,
            "train.max_epochs": 1}  # fmt: skip
    arguments = [part for key, value in sets.items() for part in ("--set", f"{key}={value}")]
    config = str(REPO / "configs" / "ci" / "jsb-gru.yaml")
    results = str(tmp_path / "sweep")
    result = in_terminal(
        width, "sweep", config, "--trials", "1", "--results-dir", results, *arguments
    )
    (trial,) = json.loads((tmp_path / "sweep" / "trials.json").read_text())["trials"]
    assert_whole(result.stdout, [trial["trial_id"], f"{trial['lr']:.3g}"], width)

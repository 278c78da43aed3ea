"""Plots: real PNG/SVG files read back, and the figures' axes inspected."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image
import pytest

from rnnbench.report import aggregate, load_runs, write_plots
from rnnbench.report.plots import learning_curve_figure, learning_curves, nll_comparison_figure

from .conftest import MakeRun


@pytest.fixture
def two_datasets(paper_suite: Path, make_run: MakeRun) -> Path:
    for cell, test in (("tanh", 3.3), ("gru", 3.2), ("lstm", 3.25)):
        make_run("nottingham", cell, nll_test=test, nll_valid=test - 0.05, nll_train=test - 0.3)
    return paper_suite


def test_learning_curve_figure_has_four_labeled_panels_one_line_per_cell(paper_suite: Path) -> None:
    result = aggregate(load_runs([paper_suite]))
    curves = learning_curves(result)[("jsb", "paper")]
    figure = learning_curve_figure("jsb", curves)
    assert len(figure.axes) == 4
    for axes in figure.axes:
        assert axes.get_xlabel() in ("epoch", "wall-clock time (s)")
        assert "nats" in axes.get_ylabel() and axes.get_title()
        curve_lines = [line for line in axes.get_lines() if len(line.get_xdata()) > 1]
        assert len(curve_lines) == 3  # tanh, gru, lstm
    legend_texts = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert [text.split()[0] for text in legend_texts] == ["tanh", "gru", "lstm"]


def test_comparison_figure_has_one_panel_per_dataset(two_datasets: Path) -> None:
    runs = load_runs([two_datasets])
    result = aggregate(runs)
    figure = nll_comparison_figure(result.rows, runs, result)
    assert [axes.get_title() for axes in figure.axes] == ["jsb", "nottingham"]
    jsb = figure.axes[0]
    paper_markers = [line for line in jsb.get_lines() if line.get_marker() == "D"]
    assert sorted(float(line.get_ydata()[0]) for line in paper_markers) == [8.54, 8.67, 9.10]
    assert len(figure.legends) == 1


def test_write_plots_writes_readable_png_and_svg(two_datasets: Path, tmp_path: Path) -> None:
    runs = load_runs([two_datasets])
    written = write_plots(aggregate(runs), runs, tmp_path / "plots")
    names = sorted(path.name for path in written)
    assert names == sorted(
        f"{stem}.{ext}"
        for stem in ("learning_curves_jsb", "learning_curves_nottingham", "test_nll")
        for ext in ("png", "svg")
    )
    for path in written:
        if path.suffix == ".png":
            pixels = matplotlib.image.imread(path)
            assert pixels.ndim == 3 and pixels.shape[0] > 500 and pixels.shape[1] > 700
            assert pixels.std() > 0.05  # not a blank canvas
        else:
            root = ET.parse(path).getroot()
            assert root.tag.endswith("svg")
    again = write_plots(aggregate(runs), runs, tmp_path / "again")
    for first, second in zip(written, again, strict=True):  # regenerated figures diff only on data
        assert first.read_bytes() == second.read_bytes(), first.name


def test_training_curve_with_skipped_epochs_is_one_connected_line() -> None:
    """eval_train_every > 1 leaves nll_train blank on most epochs: the line joins the points."""
    import pandas as pd

    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4, 5],
            "wall_time_s": [1.0, 2.0, 3.0, 4.0, 5.0],
            "nll_train": [9.0, None, 8.0, None, 7.5],
            "nll_valid": [9.5, 9.0, 8.8, 8.7, 8.9],
        }
    )
    figure = learning_curve_figure("jsb", {"gru": (history, "gru (46)")})
    train_panel = figure.axes[0]
    (line,) = [line for line in train_panel.get_lines() if len(line.get_xdata()) > 1]
    assert list(line.get_xdata()) == [1, 3, 5]
    assert list(line.get_ydata()) == [9.0, 8.0, 7.5]


def test_bad_history_is_found_before_any_figure_is_written(
    make_run: MakeRun, tmp_path: Path
) -> None:
    """learning_curves reads every plotted history.csv first (a caller can do so before printing
    its table) and names the file; write_plots then takes those curves as read."""
    from rnnbench.records import HISTORY_FILE, RecordError

    good = make_run("jsb", "gru")
    bad = make_run("jsb", "lstm")
    history = bad / HISTORY_FILE
    lines = history.read_text().splitlines()
    lines[3] = "3,4.5,7.1,abc,0.001,0.3"
    history.write_text("\n".join(lines) + "\n")
    runs = load_runs([good, bad])
    result = aggregate(runs)
    with pytest.raises(RecordError, match=r"history\.csv: line 4: nll_valid 'abc' is not a number"):
        learning_curves(result)
    with pytest.raises(RecordError, match=str(history)):
        write_plots(result, runs, tmp_path / "plots")
    assert not (tmp_path / "plots").exists()

    curves = learning_curves(aggregate(load_runs([good])))
    written = write_plots(result, runs, tmp_path / "plots", curves=curves)
    assert sorted(path.name for path in written) == [
        "learning_curves_jsb.png", "learning_curves_jsb.svg", "test_nll.png", "test_nll.svg",
    ]  # fmt: skip

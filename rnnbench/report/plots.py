"""Figures (matplotlib, Agg, no display): the paper's Figure 2 per dataset, and test NLL per cell.

Builders return Figure objects (tests inspect their axes); `write_plots` saves each as PNG and SVG
atomically.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import zlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from rnnbench.cells import cell_colour
from rnnbench.io import atomic_write_bytes
from rnnbench.report.aggregate import Aggregate, add_paper_columns, cell_rank
from rnnbench.report.load import RUN_DIR_COLUMN, read_history

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

EXTRA_COLORS = ("#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
NLL_LABEL = "NLL (nats per frame)"
PLOT_FORMATS = ("png", "svg")
CURVE_PANELS = (  # (row, column, x column, y column, x label, title)
    (0, 0, "epoch", "nll_train", "epoch", "training set"),
    (0, 1, "epoch", "nll_valid", "epoch", "validation set"),
    (1, 0, "wall_time_s", "nll_train", "wall-clock time (s)", "training set"),
    (1, 1, "wall_time_s", "nll_valid", "wall-clock time (s)", "validation set"),
)

# (dataset, variant) -> cell -> (history of the best run, legend label)
Curves: TypeAlias = "dict[tuple[str, str], dict[str, tuple[pd.DataFrame, str]]]"


def cell_color(cell: str) -> str:
    """The registry's colour (rnnbench.cells); any other cell gets one picked from its name."""
    colour = cell_colour(cell)
    if colour is not None:
        return colour
    return EXTRA_COLORS[zlib.crc32(cell.encode()) % len(EXTRA_COLORS)]  # stable across processes


def _new_figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def learning_curve_figure(dataset: str, curves: dict[str, tuple[pd.DataFrame, str]]) -> Figure:
    """The paper's Figure 2 for one dataset: train and valid NLL against epochs (top) and wall-clock
    seconds (bottom), one line per cell. `curves` maps cell -> (history, legend label)."""
    figure = _new_figure(11, 7.5)
    axes = figure.subplots(2, 2, sharey="col")
    for row, column, x_name, y_name, x_label, title in CURVE_PANELS:
        panel: Axes = axes[row][column]
        for cell in sorted(curves, key=cell_rank):
            history, label = curves[cell]
            points = history[[x_name, y_name]].dropna()  # nll_train may skip epochs
            panel.plot(points[x_name], points[y_name], color=cell_color(cell), label=label, lw=1.8)
            if y_name == "nll_valid" and history[y_name].notna().any():
                best = history.iloc[int(np.nanargmin(history[y_name].to_numpy(dtype=float)))]
                panel.plot(
                    best[x_name], best[y_name], "o", color=cell_color(cell), ms=6, mfc="white"
                )
        unit = "per epoch" if x_name == "epoch" else "per wall-clock second"
        panel.set(title=f"{title}, {unit}", xlabel=x_label, ylabel=NLL_LABEL)
        limits = _focus_ylim([history[y_name] for history, _ in curves.values()])
        if limits is not None:
            panel.set_ylim(*limits)
        panel.grid(alpha=0.3)
    axes[0][0].legend(title="cell (hidden units)", loc="upper right", fontsize=9)
    axes[0][1].plot([], [], "o", color="black", mfc="white", label="best validation epoch (kept)")
    axes[0][1].legend(loc="upper right", fontsize=9)
    figure.suptitle(f"{dataset}: learning curves (as in Chung et al. 2014, Figure 2)", fontsize=13)
    return figure


def _focus_ylim(series: list[pd.Series]) -> tuple[float, float] | None:
    """A y-range that leaves out each curve's first 5% of epochs (the first epoch's NLL is often
    5x the final one and would flatten everything after it); None when nothing is plotted."""
    values = [np.asarray(values.dropna(), dtype=float) for values in series]
    values = [curve for curve in values if curve.size]
    if not values:
        return None
    lowest = min(float(curve.min()) for curve in values)
    highest = max(
        float(curve[int(np.ceil(0.05 * curve.size)) :].max(initial=curve[-1])) for curve in values
    )
    margin = 0.05 * max(highest - lowest, 1e-3)
    return lowest - margin, highest + margin


def nll_comparison_figure(rows: pd.DataFrame, runs: pd.DataFrame, aggregate: Aggregate) -> Figure:
    """One panel per dataset: our test NLL per cell (mean of seeds, 95% t-interval, each seed as a
    dot) beside the paper's Table 2 value."""
    from matplotlib.lines import Line2D

    rows = add_paper_columns(rows)
    datasets = list(dict.fromkeys(rows["dataset"]))
    figure = _new_figure(max(7.5, 4.0 * len(datasets)), 5.2)
    axes = figure.subplots(1, len(datasets), squeeze=False)[0]
    for panel, dataset in zip(axes, datasets, strict=True):
        _test_nll_panel(panel, rows[rows["dataset"] == dataset], runs, aggregate)
        panel.set_title(dataset)
    axes[0].set_ylabel(f"test {NLL_LABEL}")
    legend = [
        Line2D([], [], ls="", marker=".", color="gray", alpha=0.6, label="our runs, one per seed"),
        Line2D([], [], ls="-", marker="o", color="gray", label="ours: mean ± 95% t-interval"),
        Line2D([], [], ls="", marker="D", color="black", mfc="none", label="paper, Table 2"),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=3, fontsize=9)
    figure.suptitle("Test NLL per cell: ours vs the paper's Table 2 (lower is better)", fontsize=12)
    return figure


SEED_OFFSET, OURS_OFFSET, PAPER_OFFSET = -0.26, -0.14, 0.22


def _test_nll_panel(
    panel: Axes, rows: pd.DataFrame, runs: pd.DataFrame, aggregate: Aggregate
) -> None:
    labels = []
    for position, (_, row) in enumerate(rows.iterrows()):
        color = cell_color(str(row["cell"]))
        labels.append(_cell_label(row))
        seeds = runs[runs[RUN_DIR_COLUMN].isin(_chosen(aggregate, row))]["nll_test"]
        panel.plot([position + SEED_OFFSET] * len(seeds), seeds, ".", color=color, alpha=0.5)
        if not math.isnan(float(row["nll_test"])):
            panel.errorbar([position + OURS_OFFSET], [row["nll_test"]], yerr=_interval(row),
                           fmt="o", color=color, ms=8, capsize=4)  # fmt: skip
            panel.annotate(f"{row['nll_test']:.2f}", (position + OURS_OFFSET, row["nll_test"]),
                           xytext=(7, 0), textcoords="offset points", ha="left", va="center",
                           fontsize=8, color=color)  # fmt: skip
        if not math.isnan(float(row["paper_nll_test"])):
            panel.plot([position + PAPER_OFFSET], [row["paper_nll_test"]], "D", color="black",
                       mfc="none", ms=8)  # fmt: skip
            panel.annotate(f"{row['paper_nll_test']:.2f}", (position + PAPER_OFFSET,
                           row["paper_nll_test"]), xytext=(8, 0), textcoords="offset points",
                           va="center", fontsize=8)  # fmt: skip
    panel.set_xticks(range(len(labels)), labels)
    panel.set_xlim(-0.7, len(labels) - 0.3)
    panel.margins(y=0.12)
    panel.set_xlabel("cell (variant)")
    panel.grid(axis="y", alpha=0.3)


def _cell_label(row: pd.Series) -> str:
    label = f"{row['cell']}\n({row['variant']})"
    if int(row["n_runs"]) == 0:
        return label + "\nno finished run"
    return label + f"\nn={int(row['n_runs'])}"


def _chosen(aggregate: Aggregate, row: pd.Series) -> tuple[str, ...]:
    selection = aggregate.selections.get(
        (str(row["dataset"]), str(row["cell"]), str(row["variant"]))
    )
    return selection.chosen_runs if selection else ()


def _interval(row: pd.Series) -> list[list[float]] | None:
    low, high, mean = (
        float(row["nll_test_ci_low"]),
        float(row["nll_test_ci_high"]),
        float(row["nll_test"]),
    )
    if math.isnan(low) or math.isnan(high):
        return None
    return [[mean - low], [high - mean]]


def learning_curves(aggregate: Aggregate) -> Curves:
    """Histories of each group's best run, by (dataset, variant) then cell; a RecordError naming
    the history.csv when one is missing or holds a value that is not a number."""
    rows = {
        (str(row["dataset"]), str(row["cell"]), str(row["variant"])): row
        for _, row in aggregate.rows.iterrows()
    }
    curves: Curves = {}
    for key, selection in sorted(aggregate.selections.items()):
        if selection.best_run is None:
            continue
        row = rows[key]
        label = f"{key[1]} ({int(row['hidden_size'])}), lr {float(row['lr']):.1e}"
        curves.setdefault((key[0], key[2]), {})[key[1]] = (
            read_history(Path(selection.best_run)),
            label,
        )
    return curves


def write_plots(
    aggregate: Aggregate, runs: pd.DataFrame, out_dir: Path, curves: Curves | None = None
) -> list[Path]:
    """Every figure as PNG and SVG under out_dir; returns the written paths. `curves`: the
    histories from `learning_curves(aggregate)`, read beforehand so that a caller can report an
    unreadable history.csv (RecordError) before it prints anything; read here when None."""
    written: list[Path] = []
    if curves is None:
        curves = learning_curves(aggregate)
    stems = _curve_stems(list(curves))
    for (dataset, variant), group_curves in curves.items():
        title = dataset if variant == "paper" else f"{dataset} ({variant})"
        figure = learning_curve_figure(title, group_curves)
        written += save_figure(figure, out_dir / stems[dataset, variant])
    if aggregate.rows["nll_test"].notna().any():
        written += save_figure(
            nll_comparison_figure(aggregate.rows, runs, aggregate), out_dir / "test_nll"
        )
    return written


def _curve_stems(keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """File stem per (dataset, variant): `learning_curves_<dataset>[_<variant>]`, made safe for a
    file name; where two keys give one stem (names that differ only in characters the slug
    replaces), each gets a short hash of its names, so no figure overwrites another."""
    plain = {
        (dataset, variant): f"learning_curves_{_slug(dataset)}"
        + ("" if variant == "paper" else f"_{_slug(variant)}")
        for dataset, variant in keys
    }
    counts = Counter([*plain.values(), "test_nll"])
    return {
        key: stem
        if counts[stem] == 1
        else f"{stem}_{hashlib.sha256('/'.join(key).encode()).hexdigest()[:8]}"
        for key, stem in plain.items()
    }


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """PNG and SVG, byte for byte the same for the same figure: no date, and SVG element ids
    hashed with a fixed salt instead of a random one, so regenerated figures diff only where
    the data changed."""
    import matplotlib

    paths = []
    for extension in PLOT_FORMATS:
        buffer = io.BytesIO()
        metadata = {"Date": None} if extension == "svg" else None
        with matplotlib.rc_context({"svg.hashsalt": "rnnbench"}):
            figure.savefig(buffer, format=extension, dpi=150, metadata=metadata)
        path = stem.with_name(f"{stem.name}.{extension}")  # a dot in the stem stays
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths


def _slug(name: str) -> str:
    """Letters, digits, '.', '_' and '-' only; no leading dot (a hidden file) or '..'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_.") or "_"

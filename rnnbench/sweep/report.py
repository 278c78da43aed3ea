"""The end of `rnnbench reproduce`: Table 2 beside the paper's values, paired statistics when the
runs allow them, and the plots, all from the results directory's run records."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rnnbench.errors import RnnbenchError
from rnnbench.io import atomic_write_text
from rnnbench.sweep.state import RUNS_DIR

if TYPE_CHECKING:
    import pandas as pd

TABLE_FILE = "table2.md"
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class ReproductionReport:
    table_path: Path
    table_markdown: str
    figures_dir: Path
    figures: list[Path]
    stats_note: str | None  # why paired statistics are missing, if they are


def write_reproduction_report(
    results_dir: Path, note: str | None = None, *, quick: bool = False
) -> ReproductionReport:
    """Write `<results-dir>/table2.md` (`note` under its title) and `<results-dir>/figures/`;
    `quick` adds each pair's committed full-protocol reference beside its result."""
    from rnnbench import report
    from rnnbench.report import formats

    runs = report.load_runs([results_dir / RUNS_DIR])
    result = report.aggregate(runs)
    rows = report.add_paper_columns(result.rows)
    sections = [
        "# Table 2: NLL per predicted frame (nats), best learning rate by validation NLL\n",
        *([f"{note}\n"] if note else []),
        formats.markdown_table(*formats.display_table(rows)),
    ]
    if quick:
        sections += ["\n## Quick run beside the full protocol (committed reference)\n"]
        sections.append(formats.markdown_table(*quick_comparison(rows)))
    stats_note = None
    try:
        pairs = report.cell_pairs(result)
    except RnnbenchError as exc:  # e.g. a pair whose best run has no per-sequence record
        stats_note = f"paired statistics unavailable: {exc}"
        sections.append(f"\n{stats_note}\n")
    else:
        if not pairs.empty:
            sections += [
                "\n## Paired bootstrap of pooled test NLL, A − B (negative: A better), 95%\n",
                formats.markdown_table(*formats.pairs_display(pairs)),
            ]
    table = "\n".join(sections)
    table_path = results_dir / TABLE_FILE
    atomic_write_text(table_path, table)
    figures_dir = results_dir / FIGURES_DIR
    figures = report.write_plots(result, runs, figures_dir)
    return ReproductionReport(table_path, table, figures_dir, figures, stats_note)


def quick_comparison(rows: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Each quick row beside its pair's committed full-protocol test NLL (rnnbench/sweep/quick.py),
    flagged where the quick budget did not bring it within TOLERANCE."""
    from rnnbench.sweep.quick import TOLERANCE, quick_plan

    plan = quick_plan()
    headers = ["dataset", "cell", "test NLL", "reference", "reference from", "Δ", "verdict"]
    cells: list[list[str]] = []
    for _, row in rows.iterrows():
        pair = plan.get((str(row["dataset"]), str(row["cell"])))
        ours = float(row["nll_test"])
        if pair is None:
            cells.append([str(row["dataset"]), str(row["cell"]), f"{ours:.3f}", "–", "–", "–",
                          "no committed reference"])  # fmt: skip
            continue
        if math.isnan(ours):
            cells.append([str(row["dataset"]), str(row["cell"]), "–",
                          f"{pair.reference_test:.3f}", "–", "–", "no result"])  # fmt: skip
            continue
        delta = ours - pair.reference_test
        source = f"{pair.reference_runs} seed(s), {pair.reference_lrs} lr(s)"
        verdict = "within 0.5" if abs(delta) <= TOLERANCE else "not reached in the quick budget"
        ran = _epochs_run(row, pair.max_epochs)
        if abs(delta) > TOLERANCE and ran < pair.needed_epochs:
            verdict += f" ({ran} of the {pair.needed_epochs} epochs it needs)"
        cells.append([str(row["dataset"]), str(row["cell"]), f"{ours:.3f}",
                      f"{pair.reference_test:.3f}", source, f"{delta:+.3f}", verdict])  # fmt: skip
    return headers, cells


def _epochs_run(row: pd.Series, budgeted: int) -> int:
    """The epochs the row's run trained (the budget where the row does not say)."""
    value = row.get("epochs")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return budgeted
    return int(value)

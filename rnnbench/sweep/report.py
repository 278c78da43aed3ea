"""The end of `rnnbench reproduce`: Table 2 beside the paper's values, paired statistics when the
runs allow them, and the plots, all from the results directory's run records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnbench.errors import RnnbenchError
from rnnbench.io import atomic_write_text
from rnnbench.sweep.state import RUNS_DIR

TABLE_FILE = "table2.md"
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class ReproductionReport:
    table_path: Path
    table_markdown: str
    figures_dir: Path
    figures: list[Path]
    stats_note: str | None  # why paired statistics are missing, if they are


def write_reproduction_report(results_dir: Path, note: str | None = None) -> ReproductionReport:
    """Write `<results-dir>/table2.md` (`note` under its title) and `<results-dir>/figures/`."""
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

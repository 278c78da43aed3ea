"""`rnnbench compare`: Table 2 from run records beside the paper; statistics, plots, a CI gate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from rnnbench.cli._common import err, out, report_errors
from rnnbench.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from rnnbench.report import GateResult

FORMATS = ("table", "markdown", "csv", "json", "latex")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("compare")(compare)


@report_errors
def compare(  # noqa: PLR0917  (typer passes options by keyword)
    paths: Annotated[
        list[Path],
        typer.Argument(help="Run directories, or folders searched recursively for metrics.json."),
    ],
    output_format: Annotated[
        str,
        typer.Option("--format", "-f", help="table | markdown | csv | json | latex (booktabs)."),
    ] = "table",
    paper: Annotated[
        bool, typer.Option("--paper", help="Add the paper's Table 2 values and deltas.")
    ] = False,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Paired bootstrap between cells (per-sequence test NLL); json: {rows, pairs}.",
        ),
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write Figure 2 per dataset and a test-NLL chart here."),
    ] = None,
    save_baseline: Annotated[
        Path | None,
        typer.Option("--save-baseline", help="Write rows + machine fingerprint (JSON)."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Gate: exit 1 if a cell regressed against this file."),
    ] = None,
    nll_tolerance: Annotated[
        float, typer.Option("--nll-tolerance", help="Allowed test-NLL increase, nats per frame.")
    ] = 0.05,
    speed_tolerance: Annotated[
        float,
        typer.Option("--speed-tolerance", help="Allowed throughput drop, fraction of baseline."),
    ] = 0.25,
) -> None:
    """Aggregate runs into the paper's Table 2: best learning rate by validation NLL, seeds as
    mean ± 95% t-interval, diverged runs counted. Optionally gate against a saved baseline (CI).

    Exit status: 0 all good.
    1: a cell regressed or is missing against --baseline, or a run record is unreadable.
    2: usage error (no runs found, bad baseline file, bad option).
    """
    from rnnbench import report
    from rnnbench.report.load import REPEATS_ATTR
    from rnnbench.report.plots import learning_curves

    if output_format not in FORMATS:
        raise UsageError(
            f"--format: unknown format '{output_format}'; choose from {', '.join(FORMATS)}"
        )
    if stats and output_format == "csv":
        raise UsageError(
            "--stats needs a format that holds two tables: table, markdown, json or latex"
        )
    report.check_tolerances(nll_tolerance, speed_tolerance)
    gate_baseline = report.load_baseline(baseline) if baseline is not None else None
    runs = report.load_runs(paths)
    _note_repeats(runs.attrs.get(REPEATS_ATTR, []))
    result = report.aggregate(runs)
    rows = report.add_paper_columns(result.rows) if paper else result.rows
    pairs = report.cell_pairs(result) if stats else None
    if pairs is not None and pairs.empty:
        err.print(
            "--stats: no dataset has two cells with finished runs to compare", highlight=False
        )
    # Read the learning curves before printing: a bad history.csv stops with nothing printed.
    curves = learning_curves(result) if plot is not None else None
    _print_results(rows, pairs, output_format)
    if plot is not None:
        for path in report.write_plots(result, runs, plot, curves=curves):
            err.print(f"wrote {path}", highlight=False)
    if save_baseline is not None or gate_baseline is not None:
        fingerprint = report.machine_fingerprint(result.rows)
    if save_baseline is not None:
        report.save_baseline(save_baseline, result.rows, fingerprint)
        err.print(f"wrote baseline {save_baseline} ({len(result.rows)} cells)", highlight=False)
    if baseline is not None and gate_baseline is not None:
        gate = report.check_against(
            gate_baseline, result.rows, fingerprint, nll_tolerance, speed_tolerance
        )
        _print_gate(gate, baseline)
        if not gate.ok:
            raise typer.Exit(1)


def _note_repeats(pairs: list[tuple[str, str]]) -> None:
    """Stderr: records of one config found twice are counted once (see report.load_runs)."""
    if pairs:
        dropped, kept = pairs[0]
        err.print(
            f"note: {len(pairs)} run record(s) repeat another's config and are counted once "
            f"(e.g. {dropped} = {kept})",
            highlight=False,
            markup=False,
        )


def _print_results(rows: pd.DataFrame, pairs: pd.DataFrame | None, output_format: str) -> None:
    """The rows (and the paired comparisons, with --stats) in the chosen format, to stdout."""
    from rnnbench.report import formats
    from rnnbench.report.paper import paper_table

    if output_format == "table":
        caption = f"paper: {paper_table().source}" if "paper_nll_test" in rows.columns else None
        _print_rich(*formats.display_table(rows), ROWS_TITLE, caption)
        if pairs is not None:
            _print_rich(*formats.pairs_display(pairs), PAIRS_TITLE)
        return
    if output_format == "json" and pairs is not None:
        text = formats.to_json_with_pairs(rows, pairs)
    elif output_format in ("markdown", "latex") and pairs is not None:
        render = formats.markdown_table if output_format == "markdown" else formats.latex_table
        text = render(*formats.display_table(rows)) + "\n" + render(*formats.pairs_display(pairs))
    else:
        text = formats.RENDERERS[output_format](rows)
    out.print(text, end="", markup=False, highlight=False, soft_wrap=True)


ROWS_TITLE = (
    "NLL per predicted frame (nats); best lr by validation NLL; seeds: mean ± 95% t-interval"
)
PAIRS_TITLE = "Paired bootstrap of pooled test NLL, A − B (negative: A better), 95% interval"


def _print_rich(
    headers: list[str], cells: list[list[str]], title: str, caption: str | None = None
) -> None:
    from rnnbench.report.formats import TEXT_HEADERS

    table = Table(title=title, caption=caption, caption_justify="left")
    for header in headers:
        table.add_column(header, justify="left" if header in TEXT_HEADERS else "right")
    for cell_row in cells:
        table.add_row(*cell_row)
    if out.is_terminal:
        out.print(table)
        return
    # Piped or captured (CI logs): the natural width instead of squashing the table into 80 columns.
    natural = out.measure(table, options=out.options.update(max_width=10_000)).maximum
    Console(file=out.file, width=max(natural, out.width), soft_wrap=True).print(table)


def _print_gate(gate: GateResult, baseline: Path) -> None:
    from rnnbench.report.gate import key_name

    err.print(f"gate against {baseline}: {gate.speed_note}", highlight=False)
    for line in gate.passed:
        err.print(f"  ok         {line}", highlight=False)
    for key in gate.missing_baseline:
        err.print(f"  new        {key_name(key)}: not in the baseline (not gated)", highlight=False)
    for key in gate.missing_current:
        err.print(
            f"  MISSING    {key_name(key)}: in the baseline but not in these runs", highlight=False
        )
    for line in gate.regressions:
        err.print(f"  REGRESSED  {line}", highlight=False)
    verdict = "PASS" if gate.ok else "FAIL"
    err.print(f"gate: {verdict} ({len(gate.regressions)} regression(s), "
              f"{len(gate.missing_current)} missing cell(s))", highlight=False)  # fmt: skip

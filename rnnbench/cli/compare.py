"""`rnnbench compare`: Table 2 from run records beside the paper; statistics, plots, a CI gate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from rnnbench.cli._common import (
    err,
    narrowest_width,
    out,
    print_table,
    report_errors,
    whole_numbers,
)
from rnnbench.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from rnnbench.report import Aggregate, GateResult

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
    average: Annotated[
        str,
        typer.Option(
            "--average",
            help="NLL that chooses the lr, the seed interval, --stats and the paper delta: pooled"
            " over each split's frames, or seqmean (mean over its pieces). Both are shown.",
        ),
    ] = "pooled",
    wide: Annotated[
        bool,
        typer.Option("--wide", help="table: every column (as markdown), not the first view."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the markdown/csv/json/latex text to this file instead."
        ),
    ] = None,
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
    mean ± 95% t-interval, diverged runs counted. Runs are pooled only within one protocol (the
    config less lr and seed) and one results dir; others are labelled rows. Test NLL both pooled
    and per piece (docs/compare.md). Optionally gate against a saved baseline (CI).

    Exit status: 0 all good.
    1: a cell regressed or is missing against --baseline, or a run record is unreadable.
    2: usage error (no runs found, bad baseline file, runs of another protocol than the
    baseline's, bad option).
    """
    from rnnbench import report
    from rnnbench.report.load import REPEATS_ATTR
    from rnnbench.report.plots import learning_curves

    _check_options(output_format, stats, average, output)
    report.check_tolerances(nll_tolerance, speed_tolerance)
    gate_baseline = report.load_baseline(baseline) if baseline is not None else None
    runs = report.load_runs(paths)
    _note_repeats(runs.attrs.get(REPEATS_ATTR, []))
    result = report.aggregate(runs, average)
    rows = report.add_paper_columns(result.rows) if paper else result.rows
    pairs = _pairs(result) if stats else None
    fingerprint = report.machine_fingerprint(result.rows)
    # Gate, and read the learning curves, before printing: a baseline of another protocol or a
    # bad history.csv stops with nothing printed.
    gate = None
    if gate_baseline is not None:
        gate = report.check_against(
            gate_baseline, result.rows, fingerprint, nll_tolerance, speed_tolerance,
            protocols=result.protocols(),
        )  # fmt: skip
    curves = learning_curves(result) if plot is not None else None
    _print_results(rows, pairs, output_format, wide=wide, output=output)
    if plot is not None:
        for path in report.write_plots(result, runs, plot, curves=curves):
            err.print(f"wrote {path}", highlight=False)
    if save_baseline is not None:
        report.save_baseline(save_baseline, result.rows, fingerprint, result.protocols())
        err.print(f"wrote baseline {save_baseline} ({len(result.rows)} cells)", highlight=False)
    if baseline is not None and gate is not None:
        _print_gate(gate, baseline)
        if not gate.ok:
            raise typer.Exit(1)


def _check_options(output_format: str, stats: bool, average: str, output: Path | None) -> None:
    from rnnbench.report.aggregate import check_average

    if output_format not in FORMATS:
        raise UsageError(
            f"--format: unknown format '{output_format}'; choose from {', '.join(FORMATS)}"
        )
    if stats and output_format == "csv":
        raise UsageError(
            "--stats needs a format that holds two tables: table, markdown, json or latex"
        )
    check_average(average)
    if output is not None and output_format == "table":
        raise UsageError("--output needs --format markdown, csv, json or latex")
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output}: is a directory, expected a file")


def _pairs(result: Aggregate) -> pd.DataFrame:
    from rnnbench import report

    pairs = report.cell_pairs(result)
    if pairs.empty:
        err.print(
            "--stats: no dataset has two cells with finished runs to compare", highlight=False
        )
    return pairs


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


def _print_results(
    rows: pd.DataFrame,
    pairs: pd.DataFrame | None,
    output_format: str,
    *,
    wide: bool,
    output: Path | None,
) -> None:
    """The rows (and the paired comparisons, with --stats) in the chosen format, to stdout or,
    written atomically, to `output`."""
    from rnnbench.io import atomic_write_text
    from rnnbench.report import formats

    if output_format == "table":
        _print_rows(rows, wide=wide)
        if pairs is not None:
            average = formats.row_average(rows)
            _print_rich(*formats.pairs_display(pairs), PAIRS_TITLE.format(AVERAGE_NAMES[average]))
        return
    if output_format == "json" and pairs is not None:
        text = formats.to_json_with_pairs(rows, pairs)
    elif output_format in ("markdown", "latex") and pairs is not None:
        render = formats.markdown_table if output_format == "markdown" else formats.latex_table
        text = render(*formats.display_table(rows)) + "\n" + render(*formats.pairs_display(pairs))
    else:
        text = formats.RENDERERS[output_format](rows)
    if output is not None:
        atomic_write_text(output, text)
        err.print(f"wrote {output}", highlight=False)
        return
    out.print(text, end="", markup=False, highlight=False, soft_wrap=True)


ROWS_TITLE = (
    "NLL per predicted frame (nats); test NLL: pooled over the split's frames, piece test: mean"
    " over its pieces; lr chosen by mean validation NLL ({}); seeds: mean ± 95% t-interval"
)
PAIRS_TITLE = "Paired bootstrap of {} test NLL, A − B (negative: A better), 95% interval"
AVERAGE_NAMES = {"pooled": "pooled", "seqmean": "per-piece mean"}


def _print_rows(rows: pd.DataFrame, *, wide: bool) -> None:
    """The rows as a Rich table: every column with --wide, else the first view, whose columns of
    the highest drop rank go first where a terminal is too narrow for all (named on stderr)."""
    from rnnbench.report import formats
    from rnnbench.report.paper import paper_table

    caption = f"paper: {paper_table().source}" if "paper_nll_test" in rows.columns else None
    title = ROWS_TITLE.format(AVERAGE_NAMES[formats.row_average(rows)])
    if wide:
        _print_rich(*formats.display_table(rows), title, caption)
        return
    headers, cells, ranks = formats.compact_table(rows)
    everything = list(range(len(headers)))
    shown = _fitting_columns(headers, cells, ranks, title) if out.is_terminal else everything
    picked = [[row[index] for index in shown] for row in cells]
    _print_rich([headers[index] for index in shown], picked, title, caption)
    hidden = [header for index, header in enumerate(headers) if index not in shown]
    if hidden:
        err.print(
            f"note: {', '.join(hidden)} hidden at this width; --wide or --format markdown for all",
            highlight=False,
        )


def _fitting_columns(
    headers: list[str], cells: list[list[str]], ranks: list[int], title: str
) -> list[int]:
    """The indices of the columns to show in the terminal: all, less those of the highest drop
    rank (the rightmost first) until the table fits with its numbers whole."""
    kept = list(range(len(headers)))
    while max(ranks[index] for index in kept) > 0:
        trial = _rich_table(
            [headers[index] for index in kept],
            [[row[index] for index in kept] for row in cells],
            title,
        )
        if narrowest_width(whole_numbers(trial, out), out) <= out.width:
            break
        kept.remove(max(reversed(kept), key=lambda index: ranks[index]))
    return kept


def _rich_table(headers: list[str], cells: list[list[str]], title: str) -> Table:
    from rnnbench.report.formats import TEXT_HEADERS

    # Columns two spaces apart (a space for the rule's gap, one of padding): narrow terminals.
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0, 0, 1))
    for header in headers:
        table.add_column(header, justify="left" if header in TEXT_HEADERS else "right")
    for cell_row in cells:
        table.add_row(*cell_row)
    return table


def _print_rich(
    headers: list[str], cells: list[list[str]], title: str, caption: str | None = None
) -> None:
    table = _rich_table(headers, cells, title)
    table.caption, table.caption_justify = caption, "left"
    print_table(table)


def _print_gate(gate: GateResult, baseline: Path) -> None:
    from rnnbench.report.gate import key_name

    err.print(f"gate against {baseline}: {gate.speed_note}", highlight=False)
    err.print(f"  protocols: {gate.protocol_note}", highlight=False)
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

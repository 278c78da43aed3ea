"""Render aggregated rows: csv and json carry every column; markdown, latex and the CLI's `--wide`
table show the columns a reader compares (one shared layout, `display_table`); the CLI's default
terminal table shows the first of them (`compact_table`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rnnbench.records import AVERAGES, nll_field

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "markdown", "csv", "json", "latex")
MISSING = "–"

Formatter = Callable[[Any], str]


def _number(pattern: str) -> Formatter:
    def render(value: Any) -> str:
        return MISSING if _missing(value) else pattern.format(value)

    return render


def _text(value: Any) -> str:
    return MISSING if _missing(value) else str(value)


# (column, header, formatter): the layout of the human-readable formats, in order. `train_nll`,
# `valid_nll` and `delta_test` are those of the average that chose the rows (display_table).
DISPLAY_COLUMNS: tuple[tuple[str, str, Formatter], ...] = (
    ("dataset", "dataset", _text),
    ("cell", "cell", _text),
    ("variant", "variant", _text),
    ("hidden_size", "hidden", _number("{:.0f}")),
    ("params_recurrent", "params (rec.)", _number("{:,.0f}")),
    ("lr", "lr", _number("{:.2e}")),
    ("n_settings", "lrs", _number("{:.0f}")),  # settings searched: a partial sweep shows it
    ("train_nll", "train NLL", _number("{:.3f}")),
    ("valid_nll", "valid NLL", _number("{:.3f}")),
    ("nll_test", "test NLL", _number("{:.3f}")),
    ("nll_test_ci95", "test ±95%", _number("±{:.3f}")),
    ("nll_test_seqmean", "piece test", _number("{:.3f}")),
    ("nll_test_seqmean_ci95", "piece ±95%", _number("±{:.3f}")),
    ("paper_nll_train", "paper train", _number("{:.2f}")),
    ("paper_nll_test", "paper test", _number("{:.2f}")),
    ("delta_test", "Δ test", _number("{:+.3f}")),
    ("epochs", "epochs", _number("{:.0f}")),
    ("wall_time_s", "wall (s)", _number("{:,.1f}")),
    ("frames_per_s", "frames/s", _number("{:,.0f}")),
    ("runs", "runs used/all", _text),
    ("n_diverged", "diverged", _number("{:.0f}")),
    ("n_interrupted", "interrupted", _number("{:.0f}")),
)
# Headers of the driving columns when the per-piece mean chose the rows (--average seqmean).
SEQMEAN_HEADERS = {
    "train_nll": "piece train",
    "valid_nll": "piece valid",
    "delta_test": "Δ piece test",
}
# Shown only when some row has a value (NaN and, for counts, 0 are "no value").
OPTIONAL_COLUMNS = (
    "nll_test_ci95", "nll_test_seqmean", "nll_test_seqmean_ci95", "paper_nll_train",
    "paper_nll_test", "delta_test", "n_interrupted", "test_pooled", "test_seqmean",
)  # fmt: skip
# The terminal's first view (compact_table): (column, header, drop rank). When the terminal is
# too narrow, the CLI drops the columns of the highest rank first; rank 0 always stays.
COMPACT_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("dataset", "dataset", 0),
    ("cell", "cell", 0),
    ("variant", "variant", 0),
    ("test_pooled", "test NLL", 0),
    ("test_seqmean", "piece test", 0),
    ("paper_nll_test", "paper", 1),
    ("delta_test", "Δ test", 2),
    ("params_recurrent", "params", 3),
    ("wall_time_s", "wall (s)", 4),
)


def _empty(column: pd.Series) -> bool:
    return bool(column.isna().all() or (column.name == "n_interrupted" and (column == 0).all()))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def row_average(rows: pd.DataFrame) -> str:
    """The average that chose the rows (aggregate's `average` column; pooled when absent)."""
    if "average" in rows.columns and len(rows) and isinstance(rows["average"].iloc[0], str):
        return str(rows["average"].iloc[0])
    return "pooled"


def _with_display_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows plus the derived columns the layouts name."""
    import numpy as np

    average = row_average(rows)
    table = rows.assign(
        runs=[
            f"{int(n)}/{int(total)}"
            for n, total in zip(rows["n_runs"], rows["n_total"], strict=True)
        ],
        train_nll=rows[nll_field("train", average)],
        valid_nll=rows[nll_field("valid", average)],
    )
    delta = "delta_" + nll_field("test", average)
    table["delta_test"] = table[delta] if delta in table.columns else np.nan
    for name in AVERAGES:
        test = nll_field("test", name)
        half = (table[f"{test}_ci_high"] - table[f"{test}_ci_low"]) / 2
        table[f"{test}_ci95"] = half
        table[f"test_{name}"] = [
            _with_interval(mean, width) for mean, width in zip(table[test], half, strict=True)
        ]
    return table


def _with_interval(mean: Any, half: Any) -> Any:
    """`8.539 ± 0.013`, `8.525` without an interval (one seed), NaN without a mean."""
    if _missing(mean):
        return math.nan
    return f"{mean:.3f}" if _missing(half) else f"{mean:.3f} ± {half:.3f}"


def _present(table: pd.DataFrame, column: str) -> bool:
    return column in table.columns and not (column in OPTIONAL_COLUMNS and _empty(table[column]))


def display_table(rows: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of every column (markdown, latex, `--wide`); optional
    columns appear only when some row has a value."""
    table = _with_display_columns(rows)
    renames = SEQMEAN_HEADERS if row_average(rows) == "seqmean" else {}
    layout = [
        (column, renames.get(column, header), render)
        for column, header, render in DISPLAY_COLUMNS
        if _present(table, column)
    ]
    headers = [header for _, header, _ in layout]
    cells = [[render(row[column]) for column, _, render in layout] for _, row in table.iterrows()]
    return headers, cells


def compact_table(rows: pd.DataFrame) -> tuple[list[str], list[list[str]], list[int]]:
    """Headers, cells and drop ranks of the terminal's first view (COMPACT_COLUMNS): test NLL with
    its interval under both averages, the paper's value and the difference, size and time."""
    formats = dict((column, render) for column, _, render in DISPLAY_COLUMNS)
    formats.update(test_pooled=_text, test_seqmean=_text, params_recurrent=_number("{:,.0f}"))
    table = _with_display_columns(rows)
    renames = {"delta_test": "Δ piece test"} if row_average(rows) == "seqmean" else {}
    layout = [entry for entry in COMPACT_COLUMNS if _present(table, entry[0])]
    headers = [renames.get(column, header) for column, header, _ in layout]
    cells = [
        [formats[column](row[column]) for column, _, _ in layout] for _, row in table.iterrows()
    ]
    return headers, cells, [rank for _, _, rank in layout]


def to_records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python rows: NaN becomes None, numpy scalars become Python numbers."""
    records = json.loads(rows.to_json(orient="records", double_precision=15))
    return [dict(record) for record in records]


def to_json(rows: pd.DataFrame) -> str:
    return json.dumps(to_records(rows), indent=2) + "\n"


def to_csv(rows: pd.DataFrame) -> str:
    return str(rows.to_csv(index=False))


def to_markdown(rows: pd.DataFrame) -> str:
    return markdown_table(*display_table(rows))


def markdown_table(headers: list[str], cells: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(_alignment(h) for h in headers) + "|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


TEXT_HEADERS = ("dataset", "cell", "variant", "A − B")


def _alignment(header: str) -> str:
    return "---" if header in TEXT_HEADERS else "---:"


def to_latex(rows: pd.DataFrame) -> str:
    return latex_table(*display_table(rows))


def latex_table(headers: list[str], cells: list[list[str]]) -> str:
    """A booktabs tabular (needs \\usepackage{booktabs})."""
    spec = "".join("l" if h in TEXT_HEADERS else "r" for h in headers)
    lines = [
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(map(_latex_escape, headers)) + r" \\",
    ]
    lines.append("\\midrule")
    lines += [" & ".join(map(_latex_escape, row)) + r" \\" for row in cells]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "_": r"\_",
    "#": r"\#",
    "$": r"\$",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "−": r"$-$",
    "<": r"$<$",
    ">": r"$>$",
}


def _latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(char, char) for char in text).replace("–", "--")


RENDERERS: dict[str, Callable[[pd.DataFrame], str]] = {
    "markdown": to_markdown,
    "csv": to_csv,
    "json": to_json,
    "latex": to_latex,
}


PAIR_HEADERS = ["dataset", "variant", "A − B", "difference", "95% interval", "p", "pieces"]


def pairs_display(pairs: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the paired-bootstrap table (difference: test NLL, A minus B, under the
    pairs' average: the header says `piece difference` for the per-piece mean)."""
    headers = list(PAIR_HEADERS)
    if row_average(pairs) == "seqmean":
        headers[headers.index("difference")] = "piece difference"
    cells = [
        [
            str(pair["dataset"]),
            str(pair["variant"]),
            f"{pair['cell_a']} − {pair['cell_b']}",
            f"{pair['difference']:+.3f}",
            f"[{pair['ci_low']:+.3f}, {pair['ci_high']:+.3f}]",
            "<0.001" if pair["p_value"] < 0.001 else f"{pair['p_value']:.3f}",
            str(pair["n_sequences"]),
        ]
        for _, pair in pairs.iterrows()
    ]
    return headers, cells


def to_json_with_pairs(rows: pd.DataFrame, pairs: pd.DataFrame) -> str:
    """`--stats --format json`: one object {"rows": [...], "pairs": [...]}."""
    return json.dumps({"rows": to_records(rows), "pairs": to_records(pairs)}, indent=2) + "\n"

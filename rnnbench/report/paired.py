"""Paired comparisons between the cells of one dataset from per-sequence test NLLs (`--stats`),
under the aggregate's average: the pooled NLL (sequences weighted by their frames) or the
per-piece mean (each sequence's NLL per frame, weighted equally)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnbench.records import PER_SEQUENCE_FILE, RecordError
from rnnbench.report.aggregate import Aggregate, GroupKey, Selection, cell_rank
from rnnbench.report.load import read_per_sequence
from rnnbench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, paired_bootstrap

if TYPE_CHECKING:
    import pandas as pd

PAIR_COLUMNS = (
    "dataset", "variant", "average", "cell_a", "cell_b", "difference", "ci_low", "ci_high",
    "p_value", "n_sequences", "n_seeds_a", "n_seeds_b", "n_resamples",
)  # fmt: skip


def per_sequence_test(selection: Selection) -> pd.DataFrame:
    """Test frames and nll_sum per sequence, nll_sum averaged over the chosen setting's seeds."""
    tables = [read_per_sequence(Path(run_dir), "test") for run_dir in selection.chosen_runs]
    first = tables[0]
    for run_dir, table in zip(selection.chosen_runs[1:], tables[1:], strict=True):
        difference = _sequence_difference(table, first)
        if difference:
            raise RecordError(
                f"{Path(run_dir) / PER_SEQUENCE_FILE}: test sequences differ from"
                f" {selection.chosen_runs[0]} ({difference})"
            )
    nll_sum = sum(table["nll_sum"] for table in tables) / len(tables)
    return first.assign(nll_sum=nll_sum)


def cell_pairs(
    aggregate: Aggregate, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> pd.DataFrame:
    """Every pair of cells per (dataset, variant), A − B in the order gru, lstm, tanh, others
    (so GRU − LSTM, GRU − tanh, LSTM − tanh); negative differences favour cell A."""
    import pandas as pd

    records: list[dict[str, Any]] = []
    for (dataset, variant), selections in _by_dataset(aggregate).items():
        tables = {key[1]: per_sequence_test(sel) for key, sel in selections.items()}
        sources = {
            key[1]: str(Path(sel.chosen_runs[0]) / PER_SEQUENCE_FILE)
            for key, sel in selections.items()
        }
        seeds = {key[1]: len(sel.chosen_runs) for key, sel in selections.items()}
        for cells in itertools.combinations(sorted(tables, key=_pair_rank), 2):
            try:
                record = _pair_record(
                    cells, tables, sources, aggregate.average, n_resamples=n_resamples, seed=seed
                )
            except RecordError as exc:
                raise RecordError(f"{dataset} ({variant}): {exc}") from exc
            seed_counts = {"n_seeds_a": seeds[cells[0]], "n_seeds_b": seeds[cells[1]]}
            names = {"dataset": dataset, "variant": variant, "average": aggregate.average}
            records.append({**names, **record, **seed_counts})
    return pd.DataFrame.from_records(records, columns=list(PAIR_COLUMNS))


def _pair_rank(cell: str) -> tuple[int, str]:
    """GRU first, then LSTM, then tanh, then custom cells: the paper's comparisons read A − B."""
    order = ("gru", "lstm", "tanh")
    return (order.index(cell), "") if cell in order else cell_rank(cell)


def _by_dataset(aggregate: Aggregate) -> dict[tuple[str, str], dict[GroupKey, Selection]]:
    grouped: dict[tuple[str, str], dict[GroupKey, Selection]] = {}
    for key, selection in sorted(aggregate.selections.items()):
        if selection.chosen_runs:
            grouped.setdefault((key[0], key[2]), {})[key] = selection
    return grouped


def _sequence_difference(table: pd.DataFrame, reference: pd.DataFrame) -> str:
    """How two per-sequence tables (indexed by sequence) disagree; '' when they cover the same
    sequences with the same frame counts."""
    if not table.index.equals(reference.index):
        extra = sorted(set(table.index) ^ set(reference.index))
        if not extra:
            return "the sequence indices differ"
        return f"{len(table)} vs {len(reference)} sequences, e.g. index {extra[0]} in only one"
    if not table["frames"].equals(reference["frames"]):
        index = table.index[(table["frames"] != reference["frames"]).to_numpy()][0]
        frames = (table["frames"][index], reference["frames"][index])
        return f"sequence {index} has {frames[0]} vs {frames[1]} frames"
    return ""


def _pair_record(
    cells: tuple[str, str],
    tables: dict[str, pd.DataFrame],
    sources: dict[str, str],
    average: str,
    *,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    table_a, table_b = tables[cells[0]], tables[cells[1]]
    difference = _sequence_difference(table_a, table_b)
    if difference:
        raise RecordError(
            f"{cells[0]} ({sources[cells[0]]}) and {cells[1]} ({sources[cells[1]]})"
            f" were tested on different sequences ({difference})"
        )
    result = paired_bootstrap(*_bootstrap_inputs(table_a, table_b, average), n_resamples, seed)
    return {
        "cell_a": cells[0], "cell_b": cells[1],
        "difference": result.difference, "ci_low": result.ci_low, "ci_high": result.ci_high,
        "p_value": result.p_value, "n_sequences": result.n_sequences,
        "n_resamples": result.n_resamples,
    }  # fmt: skip


def _bootstrap_inputs(
    table_a: pd.DataFrame, table_b: pd.DataFrame, average: str
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """paired_bootstrap's (nll_a, nll_b, weights): per-sequence sums weighted by frames (pooled),
    or per-sequence NLL per frame with weight 1 each (the per-piece mean)."""
    if average == "pooled":
        return table_a["nll_sum"], table_b["nll_sum"], table_a["frames"]
    frames = table_a["frames"]
    return table_a["nll_sum"] / frames, table_b["nll_sum"] / frames, frames * 0 + 1

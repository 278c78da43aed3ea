"""Aggregate runs into one row per (dataset, cell, variant), the way the paper built Table 2.

A setting is a run's resolved config less its seed (runs without config.yaml: hidden size, batch
size, weight noise and learning rate). Within a group, different settings (in practice: learning
rates) form a search, and the setting with the best mean validation NLL (over the seeds all
settings share) is chosen, as the paper did. Runs of the chosen setting that differ only in seed
are summarized by mean, std, n and a 95% t-interval. Runs on a subset of a dataset
(data.max_sequences) form their own dataset.
Runs that diverged or stopped early are counted in every row (n_diverged, n_interrupted), never
dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rnnbench.cells import display_rank
from rnnbench.records import has_result
from rnnbench.report.load import RUN_DIR_COLUMN, SETTING_KEY_COLUMN
from rnnbench.report.paper import paper_table
from rnnbench.report.stats import summarize_seeds

if TYPE_CHECKING:
    import pandas as pd

GROUP_COLUMNS = ("dataset", "cell", "variant")
INCOMPLETE_STATUSES = ("interrupted", "running")

GroupKey = tuple[str, str, str]


@dataclass(frozen=True)
class Selection:
    """The runs behind one aggregated row."""

    key: GroupKey
    chosen_runs: tuple[str, ...]  # run dirs of the chosen setting, one per seed (usable runs only)
    best_run: str | None  # the chosen-setting run with the lowest validation NLL (plotted curves)


@dataclass(frozen=True)
class Aggregate:
    rows: pd.DataFrame  # one row per group; columns documented in ROW_COLUMNS
    selections: dict[GroupKey, Selection]


ROW_COLUMNS = (
    *GROUP_COLUMNS,
    "hidden_size", "params_recurrent", "params_total", "lr", "batch_size", "weight_noise",
    "nll_train", "nll_valid", "nll_test",
    "nll_train_std", "nll_valid_std", "nll_test_std", "nll_test_ci_low", "nll_test_ci_high",
    "frame_acc_test", "wall_time_s", "epochs", "best_epoch", "frames_per_s",
    "n_runs", "n_settings", "n_total", "n_diverged", "n_interrupted",
    "num_threads", "device", "torch_version", "best_run",
)  # fmt: skip


def cell_rank(cell: str) -> tuple[int, str]:
    """Sort key: the registry's cells in its order (rnnbench.cells), then any other by name."""
    return display_rank(cell)


def usable_mask(runs: pd.DataFrame) -> pd.Series:
    """Runs that finished (ok, or diverged after early stopping had best weights to evaluate) with
    finite validation and test NLL: `records.has_result`, row by row."""
    import pandas as pd

    columns = zip(runs["status"], runs["nll_valid"], runs["nll_test"], strict=True)
    return pd.Series([has_result(*row) for row in columns], index=runs.index, dtype=bool)


def aggregate(runs: pd.DataFrame) -> Aggregate:
    """One row per (dataset, cell, variant), sorted by dataset, then cell in the paper's order."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    selections: dict[GroupKey, Selection] = {}
    runs = runs.assign(_usable=usable_mask(runs))
    for key, group in runs.groupby(list(GROUP_COLUMNS), sort=False):
        group_key: GroupKey = (str(key[0]), str(key[1]), str(key[2]))
        row, selection = _aggregate_group(group_key, group)
        rows.append(row)
        selections[group_key] = selection
    rows.sort(key=_row_rank)
    table = pd.DataFrame.from_records(rows, columns=list(ROW_COLUMNS))
    return Aggregate(rows=table, selections=selections)


def _row_rank(row: dict[str, Any]) -> tuple[str, tuple[int, str], str]:
    return (str(row["dataset"]), cell_rank(str(row["cell"])), str(row["variant"]))


def _aggregate_group(key: GroupKey, group: pd.DataFrame) -> tuple[dict[str, Any], Selection]:
    usable = group[group["_usable"]]
    incomplete = group["status"].isin(INCOMPLETE_STATUSES)
    # diverged (with or without best weights to evaluate), or no finite validation/test NLL
    failed = (group["status"] == "diverged") | (~group["_usable"] & ~incomplete)
    counts = {
        "n_settings": int(group[SETTING_KEY_COLUMN].nunique()),
        "n_total": len(group),
        "n_diverged": int(failed.sum()),
        "n_interrupted": int(incomplete.sum()),
    }
    if usable.empty:
        return _empty_row(key, group, counts), Selection(key, (), None)
    chosen = _choose_setting(usable)
    best = chosen.sort_values("nll_valid", kind="stable").iloc[0]
    best_run = str(best[RUN_DIR_COLUMN])
    row = {**dict(zip(GROUP_COLUMNS, key, strict=True)), **counts, "best_run": best_run}
    row.update(_setting_fields(best))
    row.update(_seed_fields(chosen))
    selection = Selection(key, tuple(str(d) for d in chosen[RUN_DIR_COLUMN]), best_run)
    return row, selection


def _choose_setting(usable: pd.DataFrame) -> pd.DataFrame:
    """The usable runs of the setting with the lowest mean validation NLL (ties: the first).

    Settings are compared on the seeds they all share, so that extra seeds run afterwards at the
    chosen learning rate (for its interval) cannot move the choice to a rival scored on one lucky
    seed; with no seed in common, each setting's mean over all its runs decides.
    """
    seed_sets = [set(seeds) for _, seeds in usable.groupby(SETTING_KEY_COLUMN)["seed"]]
    common = set.intersection(*seed_sets) if seed_sets else set()
    scored = usable[usable["seed"].isin(common)] if common else usable
    scores = scored.groupby(SETTING_KEY_COLUMN, sort=True)["nll_valid"].mean()
    best_key = str(scores.index[int(scores.to_numpy().argmin())])
    return usable[usable[SETTING_KEY_COLUMN] == best_key].sort_values("seed")


def _setting_fields(run: pd.Series) -> dict[str, Any]:
    names = ("hidden_size", "params_recurrent", "params_total", "lr", "batch_size", "weight_noise")
    fields: dict[str, Any] = {name: run[name] for name in names}
    fields["torch_version"] = run["torch_version"]
    fields["num_threads"] = run.get("num_threads")
    return fields


def _seed_fields(chosen: pd.DataFrame) -> dict[str, Any]:
    test = summarize_seeds(chosen["nll_test"])
    train = summarize_seeds(chosen["nll_train"])
    valid = summarize_seeds(chosen["nll_valid"])
    return {
        "nll_train": train.mean, "nll_valid": valid.mean, "nll_test": test.mean,
        "nll_train_std": train.std, "nll_valid_std": valid.std, "nll_test_std": test.std,
        "nll_test_ci_low": test.ci_low, "nll_test_ci_high": test.ci_high,
        "frame_acc_test": _mean(chosen["frame_acc_test"]),
        "wall_time_s": _mean(chosen["wall_time_s"]),
        "epochs": round(_mean(chosen["epochs"])),
        "best_epoch": round(_mean(chosen["best_epoch"])),
        "frames_per_s": _mean(chosen["frames_per_s"]),
        "n_runs": test.n,
        "device": ",".join(sorted(set(map(str, chosen["device"])))),
    }  # fmt: skip


def _empty_row(key: GroupKey, group: pd.DataFrame, counts: dict[str, int]) -> dict[str, Any]:
    """A group without one usable run still gets a row: NLLs are NaN, the counts say why."""
    row: dict[str, Any] = {name: math.nan for name in ROW_COLUMNS}
    row.update(zip(GROUP_COLUMNS, key, strict=True))
    first = group.iloc[0]
    for name in ("hidden_size", "params_recurrent", "params_total", "torch_version"):
        row[name] = first[name]
    row.update(
        counts, n_runs=0, best_run=None, device=",".join(sorted(set(map(str, group["device"]))))
    )
    return row


def add_paper_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """paper_nll_train / paper_nll_test from the shipped Table 2, and the deltas (ours − paper);
    NaN where the paper has no entry."""
    table = paper_table()
    found = [
        table.lookup(str(d), str(c)) for d, c in zip(rows["dataset"], rows["cell"], strict=True)
    ]
    result = rows.copy()
    result["paper_nll_train"] = [entry[0] if entry else math.nan for entry in found]
    result["paper_nll_test"] = [entry[1] if entry else math.nan for entry in found]
    result["delta_nll_train"] = result["nll_train"] - result["paper_nll_train"]
    result["delta_nll_test"] = result["nll_test"] - result["paper_nll_test"]
    return result


def _mean(values: pd.Series) -> float:
    import pandas as pd

    numeric = pd.to_numeric(values, errors="coerce")
    return float(numeric.mean()) if numeric.notna().any() else math.nan

"""Aggregate runs into one row per (dataset, cell, variant), the way the paper built Table 2.

A setting is a run's resolved config less its seed (runs without config.yaml: hidden size, batch
size, weight noise and learning rate). Within a group, different settings (in practice: learning
rates; load_runs gives runs of other protocols or sources rows of their own) form a search, and
the setting with the best mean validation NLL (over the seeds all settings share) is chosen, as
the paper did. `average` says which NLL drives that choice and the seed interval: `pooled` over a
split's frames or `seqmean`, the mean over its pieces (records.py); every row carries both. Runs
of the chosen setting that differ only in seed are summarized by mean, std, n and a 95%
t-interval. Runs on a subset of a dataset (data.max_sequences) form their own dataset.
Runs that diverged or stopped early are counted in every row (n_diverged, n_interrupted), never
dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rnnbench.cells import display_rank
from rnnbench.errors import UsageError
from rnnbench.records import AVERAGES, has_result, nll_field
from rnnbench.report.load import (
    PROTOCOL_COLUMN,
    RUN_DIR_COLUMN,
    SETTING_KEY_COLUMN,
    SOURCE_COLUMN,
)
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
    protocol: str = "{}"  # JSON: the chosen setting's protocol (report.load), for the gate


@dataclass(frozen=True)
class Aggregate:
    rows: pd.DataFrame  # one row per group; columns documented in ROW_COLUMNS
    selections: dict[GroupKey, Selection]
    average: str = "pooled"  # the NLL average that chose the settings (records.AVERAGES)

    def protocols(self) -> dict[GroupKey, str]:
        """The chosen setting's protocol (JSON) of every row with a finished run, for the gate."""
        return {key: sel.protocol for key, sel in self.selections.items() if sel.chosen_runs}


ROW_COLUMNS = (
    *GROUP_COLUMNS,
    "hidden_size", "params_recurrent", "params_total", "lr", "batch_size", "weight_noise",
    "nll_train", "nll_valid", "nll_test",
    "nll_train_std", "nll_valid_std", "nll_test_std", "nll_test_ci_low", "nll_test_ci_high",
    "nll_train_seqmean", "nll_valid_seqmean", "nll_test_seqmean",
    "nll_train_seqmean_std", "nll_valid_seqmean_std", "nll_test_seqmean_std",
    "nll_test_seqmean_ci_low", "nll_test_seqmean_ci_high", "average",
    "frame_acc_test", "wall_time_s", "epochs", "best_epoch", "frames_per_s",
    "n_runs", "n_settings", "n_total", "n_diverged", "n_interrupted",
    "num_threads", "device", "torch_version", "source", "best_run",
)  # fmt: skip


def cell_rank(cell: str) -> tuple[int, str]:
    """Sort key: the registry's cells in its order (rnnbench.cells), then any other by name."""
    return display_rank(cell)


def usable_mask(runs: pd.DataFrame, average: str = "pooled") -> pd.Series:
    """Runs that finished (ok, or diverged after early stopping had best weights to evaluate) with
    finite validation and test NLL under the average: `records.has_result`, row by row."""
    import pandas as pd

    valid, test = (runs[nll_field(split, average)] for split in ("valid", "test"))
    columns = zip(runs["status"], valid, test, strict=True)
    return pd.Series([has_result(*row) for row in columns], index=runs.index, dtype=bool)


def check_average(average: str) -> None:
    if average not in AVERAGES:
        raise UsageError(
            f"--average: unknown average '{average}'; choose from {', '.join(AVERAGES)}"
        )


def aggregate(runs: pd.DataFrame, average: str = "pooled") -> Aggregate:
    """One row per (dataset, cell, variant), sorted by dataset, then cell in the paper's order;
    `average` (records.AVERAGES) drives the choice of setting and the row's run count."""
    import pandas as pd

    check_average(average)
    rows: list[dict[str, Any]] = []
    selections: dict[GroupKey, Selection] = {}
    runs = runs.assign(_usable=usable_mask(runs, average))
    for key, group in runs.groupby(list(GROUP_COLUMNS), sort=False):
        group_key: GroupKey = (str(key[0]), str(key[1]), str(key[2]))
        row, selection = _aggregate_group(group_key, group, average)
        rows.append(row)
        selections[group_key] = selection
    rows.sort(key=_row_rank)
    table = pd.DataFrame.from_records(rows, columns=list(ROW_COLUMNS))
    return Aggregate(rows=table, selections=selections, average=average)


def _row_rank(row: dict[str, Any]) -> tuple[str, tuple[int, str], str]:
    return (str(row["dataset"]), cell_rank(str(row["cell"])), str(row["variant"]))


def _aggregate_group(
    key: GroupKey, group: pd.DataFrame, average: str
) -> tuple[dict[str, Any], Selection]:
    usable = group[group["_usable"]]
    incomplete = group["status"].isin(INCOMPLETE_STATUSES)
    # diverged (with or without best weights to evaluate), or no finite validation/test NLL
    failed = (group["status"] == "diverged") | (~group["_usable"] & ~incomplete)
    group_fields = {
        "n_settings": int(group[SETTING_KEY_COLUMN].nunique()),
        "n_total": len(group),
        "n_diverged": int(failed.sum()),
        "n_interrupted": int(incomplete.sum()),
        "average": average,
        "source": str(group[SOURCE_COLUMN].iloc[0]),  # one per row: see load._label_families
    }
    if usable.empty:
        return _empty_row(key, group, group_fields), Selection(key, (), None)
    valid = nll_field("valid", average)
    chosen = _choose_setting(usable, valid)
    best = chosen.sort_values(valid, kind="stable").iloc[0]
    best_run = str(best[RUN_DIR_COLUMN])
    row = {**dict(zip(GROUP_COLUMNS, key, strict=True)), **group_fields, "best_run": best_run}
    row.update(_setting_fields(best))
    row.update(_seed_fields(chosen, average))
    run_dirs = tuple(str(d) for d in chosen[RUN_DIR_COLUMN])
    return row, Selection(key, run_dirs, best_run, str(best[PROTOCOL_COLUMN]))


def _choose_setting(usable: pd.DataFrame, valid: str) -> pd.DataFrame:
    """The usable runs of the setting with the lowest mean validation NLL, column `valid` (ties:
    the first).

    Settings are compared on the seeds they all share, so that extra seeds run afterwards at the
    chosen learning rate (for its interval) cannot move the choice to a rival scored on one lucky
    seed; with no seed in common, each setting's mean over all its runs decides.
    """
    seed_sets = [set(seeds) for _, seeds in usable.groupby(SETTING_KEY_COLUMN)["seed"]]
    common = set.intersection(*seed_sets) if seed_sets else set()
    scored = usable[usable["seed"].isin(common)] if common else usable
    scores = scored.groupby(SETTING_KEY_COLUMN, sort=True)[valid].mean()
    best_key = str(scores.index[int(scores.to_numpy().argmin())])
    return usable[usable[SETTING_KEY_COLUMN] == best_key].sort_values("seed")


def _setting_fields(run: pd.Series) -> dict[str, Any]:
    names = ("hidden_size", "params_recurrent", "params_total", "lr", "batch_size", "weight_noise")
    fields: dict[str, Any] = {name: run[name] for name in names}
    fields["torch_version"] = run["torch_version"]
    fields["num_threads"] = run.get("num_threads")
    return fields


def _seed_fields(chosen: pd.DataFrame, average: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for each in AVERAGES:
        fields.update(_nll_fields(chosen, each))
    fields.update({
        "frame_acc_test": _mean(chosen["frame_acc_test"]),
        "wall_time_s": _mean(chosen["wall_time_s"]),
        "epochs": round(_mean(chosen["epochs"])),
        "best_epoch": round(_mean(chosen["best_epoch"])),
        "frames_per_s": _mean(chosen["frames_per_s"]),
        "n_runs": summarize_seeds(chosen[nll_field("test", average)]).n,
        "device": ",".join(sorted(set(map(str, chosen["device"])))),
    })  # fmt: skip
    return fields


def _nll_fields(chosen: pd.DataFrame, average: str) -> dict[str, Any]:
    """Mean and std over seeds of each split's NLL under one average, and the test interval."""
    fields: dict[str, Any] = {}
    for split in ("train", "valid", "test"):
        name = nll_field(split, average)
        summary = summarize_seeds(chosen[name])
        fields.update({name: summary.mean, f"{name}_std": summary.std})
        if split == "test":
            fields.update({f"{name}_ci_low": summary.ci_low, f"{name}_ci_high": summary.ci_high})
    return fields


def _empty_row(key: GroupKey, group: pd.DataFrame, fields: dict[str, Any]) -> dict[str, Any]:
    """A group without one usable run still gets a row: NLLs are NaN, the counts say why."""
    row: dict[str, Any] = {name: math.nan for name in ROW_COLUMNS}
    row.update(zip(GROUP_COLUMNS, key, strict=True))
    first = group.iloc[0]
    for name in ("hidden_size", "params_recurrent", "params_total", "torch_version"):
        row[name] = first[name]
    row.update(
        fields, n_runs=0, best_run=None, device=",".join(sorted(set(map(str, group["device"]))))
    )
    return row


def add_paper_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """paper_nll_train / paper_nll_test from the shipped Table 2, and the deltas (ours − paper) of
    both averages (delta_nll_test, delta_nll_test_seqmean, ...); NaN where the paper has none."""
    table = paper_table()
    found = [
        table.lookup(str(d), str(c)) for d, c in zip(rows["dataset"], rows["cell"], strict=True)
    ]
    result = rows.copy()
    result["paper_nll_train"] = [entry[0] if entry else math.nan for entry in found]
    result["paper_nll_test"] = [entry[1] if entry else math.nan for entry in found]
    for average in AVERAGES:
        for split in ("train", "test"):
            name = nll_field(split, average)
            result[f"delta_{name}"] = result[name] - result[f"paper_nll_{split}"]
    return result


def _mean(values: pd.Series) -> float:
    import pandas as pd

    numeric = pd.to_numeric(values, errors="coerce")
    return float(numeric.mean()) if numeric.notna().any() else math.nan

"""`rnnbench reproduce`: the paper's grid from configs/paper, swept, then Table 2 and its plots.

`quick` is a small fixed budget for a first look and for CI: one trial per pair at a learning rate
known to train well for its cell (the registry's `quick_lr`), a few epochs, and only the first
sequences of the three big datasets (every split), so all 12 pairs finish in under 10 minutes on
2 cores (README: timings). Its numbers are a smoke test of the whole pipeline, not the paper's
protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rnnbench.cells import get_cell
from rnnbench.errors import UsageError
from rnnbench.sweep.grid import directory_pairs, paper_config_dir, split_names
from rnnbench.sweep.trials import BaseConfig, SweepSpec


@dataclass(frozen=True)
class QuickBudget:
    max_epochs: int
    max_sequences: int | None  # first N sequences of every split; None: the whole dataset


# Measured on 2 shared CPU cores (README): all 12 pairs in about 5 minutes.
QUICK_BUDGET = {
    "jsb": QuickBudget(max_epochs=10, max_sequences=None),
    "nottingham": QuickBudget(max_epochs=2, max_sequences=200),
    "musedata": QuickBudget(max_epochs=2, max_sequences=100),
    "piano-midi": QuickBudget(max_epochs=2, max_sequences=24),
}
QUICK_DEFAULT = QuickBudget(max_epochs=2, max_sequences=24)
QUICK_NOTE = (
    "Quick budget (`rnnbench reproduce --quick`): one trial per pair at a fixed learning rate, "
    "a few epochs, the first sequences only of Nottingham, MuseData and Piano-midi.de. "
    "A first look at the pipeline, not the paper's protocol: "
    "compare with the paper only after a full run."
)


def reproduce_spec(
    datasets: Sequence[str] | None,
    cells: Sequence[str] | None,
    *,
    trials: int | None = None,
    seeds: int = 1,
    variant: str = "paper",
    quick: bool = False,
    sweep_seed: int = 0,
    overrides: Sequence[str] = (),
) -> SweepSpec:
    """The sweep behind `reproduce`; `overrides` come last so they win (tests shrink the budget).
    `trials` None: the paper's 10 (and --quick's 1). A cell without a paper config (a plugin)
    runs under its dataset's paper protocol (rnnbench.sweep.grid)."""
    if quick and trials not in (None, 1):
        raise UsageError(
            f"--quick runs 1 trial per pair at a known-good learning rate, not --trials {trials}"
        )
    pairs = directory_pairs(paper_config_dir(), split_names(datasets), split_names(cells))
    bases = [
        BaseConfig(base.path, (*base.settings, *_pair_settings(dataset, cell, variant, quick)))
        for dataset, cell, base in pairs
    ]
    spec = SweepSpec(
        bases=tuple(bases),
        trials=10 if trials is None else trials,
        seeds=seeds,
        sweep_seed=sweep_seed,
        overrides=tuple(overrides),
    )
    return replace(spec, trials=1, fixed_lr=True) if quick else spec


def _pair_settings(dataset: str, cell: str, variant: str, quick: bool) -> list[tuple[str, Any]]:
    settings: list[tuple[str, Any]] = [("model.variant", variant)]
    if not quick:
        return settings
    budget = QUICK_BUDGET.get(dataset, QUICK_DEFAULT)
    settings += [("optim.lr", get_cell(cell).quick_lr), ("train.max_epochs", budget.max_epochs)]
    if budget.max_sequences is not None:
        settings.append(("data.max_sequences", budget.max_sequences))
    return settings

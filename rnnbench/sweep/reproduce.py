"""`rnnbench reproduce`: the paper's grid from configs/paper, swept, then Table 2 and its plots.

`quick` is the headline protocol cut short (rnnbench/sweep/quick.py): one trial per pair, full
datasets, at a learning rate the committed runs used and for the epochs that rate needed to come
within reach of the full protocol's result, inside a time budget (about 7 minutes on 2 cores; the
dearest pairs may get fewer epochs, and their table row says so). A cell without a committed budget
(a plugin) runs outside that budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rnnbench.cells import get_cell
from rnnbench.errors import UsageError
from rnnbench.sweep.grid import directory_pairs, paper_config_dir, split_names
from rnnbench.sweep.quick import QuickPair, quick_plan
from rnnbench.sweep.trials import BaseConfig, SweepSpec

QUICK_NOTE = (
    "**Quick run** (`rnnbench reproduce --quick`): the headline protocol on the full datasets, one "
    "trial per pair at a learning rate its committed runs used, cut to the epochs that rate needed "
    "to come near the full protocol's result, within a time budget (rnnbench/sweep/quick.yaml). "
    "Not the protocol itself: "
    "the `reference` columns below give the committed full-protocol value of each pair."
)
DEFAULT_QUICK_EPOCHS = 20  # a pair without a committed budget (e.g. your own cell)


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
    plan = quick_plan() if quick else None  # read once: every pair's settings come from it
    if plan is not None:  # dearest first: two workers then finish together (the table keeps order)
        pairs.sort(key=lambda pair: -_quick_cost(plan, pair[0], pair[1]))
    bases = [
        BaseConfig(base.path, (*base.settings, *_pair_settings(dataset, cell, variant, plan)))
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


def _quick_cost(plan: dict[tuple[str, str], QuickPair], dataset: str, cell: str) -> float:
    """A pair's quick epochs x seconds per epoch; a pair without a budget, its dataset's dearest."""
    pair = plan.get((dataset, cell))
    if pair is not None:
        return pair.max_epochs * pair.epoch_seconds
    return max(
        (p.max_epochs * p.epoch_seconds for (d, _), p in plan.items() if d == dataset), default=0.0
    )


def _pair_settings(
    dataset: str, cell: str, variant: str, plan: dict[tuple[str, str], QuickPair] | None
) -> list[tuple[str, Any]]:
    """The pair's variant, and under --quick (`plan` given) its rate and epoch budget."""
    settings: list[tuple[str, Any]] = [("model.variant", variant)]
    if plan is None:
        return settings
    pair = plan.get((dataset, cell))
    if pair is not None:
        return [*settings, ("optim.lr", pair.lr), ("train.max_epochs", pair.max_epochs)]
    # No committed budget: the cell's quick rate, the longest budget of the dataset's other cells.
    epochs = max((p.max_epochs for (d, _), p in plan.items() if d == dataset), default=None)
    lr = get_cell(cell).quick_lr
    return [*settings, ("optim.lr", lr), ("train.max_epochs", epochs or DEFAULT_QUICK_EPOCHS)]

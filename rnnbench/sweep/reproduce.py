"""`rnnbench reproduce`: the paper's grid from configs/paper, swept, then Table 2 and its plots.

`quick` is a small fixed budget for a first look and for CI: one trial per pair at a learning rate
known to train well for its cell, and a few epochs (see QUICK_* below and the README for timings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rnnbench.sweep.grid import expand_bases, paper_config_dir
from rnnbench.sweep.trials import BaseConfig, SweepSpec

# A learning rate inside the paper's range exp(-12)..exp(-6) that trains each cell well (measured).
QUICK_LR = {"tanh": 1e-3, "gru": 2e-3, "lstm": 2e-3}
QUICK_MAX_EPOCHS = 3
VARIANTS = ("paper", "fused")


def reproduce_spec(
    datasets: Sequence[str] | None,
    cells: Sequence[str] | None,
    *,
    trials: int = 10,
    seeds: int = 1,
    variant: str = "paper",
    quick: bool = False,
    sweep_seed: int = 0,
    overrides: Sequence[str] = (),
) -> SweepSpec:
    """The sweep behind `reproduce`; `overrides` come last so they win (tests shrink the budget)."""
    pairs = expand_bases(paper_config_dir(), datasets, cells)
    bases = [BaseConfig(pair.path, _pair_overrides(_cell_of(pair), quick)) for pair in pairs]
    spec = SweepSpec(
        bases=tuple(bases),
        trials=trials,
        seeds=seeds,
        sweep_seed=sweep_seed,
        overrides=(f"model.variant={variant}", *overrides),
    )
    return replace(spec, trials=1, fixed_lr=True) if quick else spec


def _cell_of(pair: BaseConfig) -> str:
    return pair.path.stem.rsplit("-", 1)[1]  # <dataset>-<cell>.yaml; datasets may hold '-'


def _pair_overrides(cell: str, quick: bool) -> tuple[str, ...]:
    if not quick:
        return ()
    return (f"optim.lr={QUICK_LR.get(cell, 1e-3)!r}", f"train.max_epochs={QUICK_MAX_EPOCHS}")

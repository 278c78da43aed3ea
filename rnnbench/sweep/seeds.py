"""Seeds at the chosen learning rate: after a pair's search, K seeds of its best setting.

The paper reports one run per cell; intervals need several seeds, and running K seeds at every
learning rate costs K times the search. `--best-seeds K` adds, once a pair's search has finished,
seeds 0..K-1 at the learning rate with the best mean validation NLL: the choice `rnnbench compare`
makes, which the extra seeds cannot change (compare averages only over the seeds every setting
has). A pair whose search is unfinished (a trial failed, was interrupted or never ran) gets no
extra seeds yet; running the same command again adds them.

    search (seed 0 at 10 learning rates)      seeds at the chosen rate
    lr_0  lr_1  ...  lr_k*  ...  lr_9    ->   lr_k* seed 1, 2, ..., K-1
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnbench.records import has_result
from rnnbench.sweep.state import TrialState, inspect_run_dir, run_dir_for
from rnnbench.sweep.trials import Trial, reseeded


@dataclass(frozen=True)
class SeedPlan:
    trials: list[Trial]  # seed trials to run (the runner skips the finished ones)
    waiting: list[str]  # "<dataset>/<cell>" pairs whose search has not finished


def best_seed_trials(search: Sequence[Trial], results_dir: Path, seeds: int) -> SeedPlan:
    """Seeds 0..seeds-1 at each finished pair's chosen learning rate, less those the search ran."""
    pairs: dict[tuple[str, str], list[Trial]] = {}
    for trial in search:
        pairs.setdefault((trial.dataset, trial.cell), []).append(trial)
    plan: list[Trial] = []
    waiting: list[str] = []
    for (dataset, cell), trials in pairs.items():
        chosen = chosen_trial(trials, results_dir)
        if chosen is None:
            waiting.append(f"{dataset}/{cell}")
            continue
        have = {trial.seed for trial in trials if trial.lr_index == chosen.lr_index}
        plan.extend(reseeded(chosen, seed) for seed in range(seeds) if seed not in have)
    return SeedPlan(plan, waiting)


def chosen_trial(trials: Sequence[Trial], results_dir: Path) -> Trial | None:
    """The pair's trial at the learning rate with the best mean validation NLL over its usable
    seeds (ties: the earlier draw); None while any trial is unfinished or none is usable."""
    valid: dict[int, list[float]] = {}
    for trial in trials:
        state = inspect_run_dir(run_dir_for(results_dir, trial.trial_id))
        if state.state is not TrialState.FINISHED or state.metrics is None:
            return None
        metrics = state.metrics
        usable = has_result(metrics.status, metrics.nll_valid, metrics.nll_test)
        if usable and metrics.nll_valid is not None:
            valid.setdefault(trial.lr_index, []).append(metrics.nll_valid)
    if not valid:
        return None
    best = min(valid, key=lambda index: (statistics.fmean(valid[index]), index))
    return min((trial for trial in trials if trial.lr_index == best), key=lambda trial: trial.seed)

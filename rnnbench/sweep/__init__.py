"""Sweeps: the paper's learning-rate search as a resumable list of trials, run locally or on Ray.

Public API:
- `SweepSpec`, `BaseConfig`, `materialize(spec) -> list[Trial]`, `draw_learning_rates(...)`
- `expand_bases(config, datasets, cells)`: the CONFIG / --datasets / --cells rule
- `make_executor(name, workers, ray_address)`, `run_sweep(trials, results_dir, executor, observer)`
- `reproduce_spec(...)`: the sweep behind `rnnbench reproduce`
"""

from __future__ import annotations

from rnnbench.errors import UnknownNameError
from rnnbench.sweep.executors import Executor, LocalExecutor
from rnnbench.sweep.grid import PAPER_DATASETS, expand_bases
from rnnbench.sweep.progress import SweepProgress
from rnnbench.sweep.reproduce import reproduce_spec
from rnnbench.sweep.runner import SweepObserver, SweepResult, run_sweep
from rnnbench.sweep.state import run_dir_for
from rnnbench.sweep.trial_list import read_trial_list
from rnnbench.sweep.trials import BaseConfig, SweepSpec, Trial, draw_learning_rates, materialize

EXECUTORS = ("local", "ray")


def make_executor(
    name: str, workers: int | None = None, ray_address: str | None = None
) -> Executor:
    """The executor registry: `local` (a process pool) or `ray` (needs the rnnbench[ray] extra)."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        from rnnbench.sweep.ray_executor import RayExecutor

        return RayExecutor(workers, ray_address)
    raise UnknownNameError("executor", name, EXECUTORS)


__all__ = [
    "EXECUTORS",
    "PAPER_DATASETS",
    "BaseConfig",
    "Executor",
    "SweepObserver",
    "SweepProgress",
    "SweepResult",
    "SweepSpec",
    "Trial",
    "draw_learning_rates",
    "expand_bases",
    "make_executor",
    "materialize",
    "read_trial_list",
    "reproduce_spec",
    "run_dir_for",
    "run_sweep",
]

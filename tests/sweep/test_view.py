from __future__ import annotations

import math

import pytest
from rich.console import Console

from rnnbench.cli.sweep import render_progress
from rnnbench.errors import UsageError
from rnnbench.sweep.executors import split_cores
from rnnbench.sweep.progress import SweepProgress
from rnnbench.sweep.worker import TrialOutcome
from tests.sweep.helpers import make_trial


def test_progress_counts_best_per_pair_and_eta() -> None:
    progress = SweepProgress(total=5, slots=2)
    good, bad, worse = (
        make_trial("a", lr=1e-3),
        make_trial("b", lr=1e-4),
        make_trial("c", cell="lstm"),
    )
    progress.record(good, TrialOutcome("a", "ok", 8.0, 3, 10.0))
    progress.record(bad, TrialOutcome("b", "diverged", math.nan, 1, 30.0))
    progress.record(worse, TrialOutcome("c", "failed", None, 0, 1.0, "ValueError: boom"))
    assert (progress.done, progress.ok, progress.diverged, len(progress.failed)) == (2, 1, 1, 1)
    assert progress.best[("jsb", "gru")].trial_id == "a"
    assert ("jsb", "lstm") not in progress.best
    assert progress.eta_s() == pytest.approx(20.0)  # mean 20 s x ceil(2 left / 2 slots)


def test_the_live_panel_shows_counts_best_nll_and_eta() -> None:
    progress = SweepProgress(total=3, slots=1)
    progress.record(make_trial("a"), TrialOutcome("a", "ok", 8.25, 3, 60.0))
    progress.running["b"] = make_trial("b")
    console = Console(record=True, width=120)
    console.print(render_progress(progress, elapsed_s=75.0))
    text = console.export_text()
    assert "done 1/3" in text
    assert "running 1" in text
    assert "8.250" in text
    assert "ETA 2m00s" in text
    assert "elapsed 1m15s" in text


@pytest.mark.parametrize(
    ("cores", "workers", "expected"),
    [(2, None, (2, 1)), (8, 2, (2, 4)), (8, 3, (3, 2)), (2, 2, (2, 1))],
)
def test_workers_times_threads_fit_the_cores(
    cores: int, workers: int | None, expected: tuple[int, int]
) -> None:
    assert split_cores(cores, workers) == expected
    assert expected[0] * expected[1] <= cores


@pytest.mark.parametrize("workers", [0, 3])
def test_impossible_worker_counts_are_usage_errors(workers: int) -> None:
    with pytest.raises(UsageError, match="--workers"):
        split_cores(2, workers)

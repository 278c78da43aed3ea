"""`--best-seeds K`: seeds at each pair's chosen learning rate, once its search has finished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import read_metrics
from rnnbench.sweep import BaseConfig, SweepSpec, materialize, run_dir_for
from rnnbench.sweep.seeds import best_seed_trials
from rnnbench.sweep.trial_list import TRIALS_JSON
from rnnbench.sweep.trials import reseeded
from tests.conftest import REPO_ROOT
from tests.sweep.helpers import write_metrics

PAPER = REPO_ROOT / "configs" / "paper"
TINY = ("model.hidden_size=4", "train.max_epochs=1", "data.max_sequences=20")


def search(cells: tuple[str, ...] = ("gru",), trials: int = 3, seeds: int = 1) -> SweepSpec:
    bases = tuple(BaseConfig(PAPER / f"jsb-{cell}.yaml") for cell in cells)
    return SweepSpec(bases=bases, trials=trials, seeds=seeds, overrides=TINY)


def test_a_reseeded_trial_is_the_trial_the_sweep_would_list_for_that_seed() -> None:
    one, two = materialize(search(seeds=1)), materialize(search(seeds=2))
    assert reseeded(one[0], 0) == one[0]
    assert reseeded(one[0], 1) == two[1]  # lr 0 seed 1: same id, lr and lr_index


def test_seeds_go_to_the_best_validation_rate_of_each_finished_pair(tmp_path: Path) -> None:
    trials = materialize(search(cells=("gru", "lstm")))
    gru, lstm = trials[:3], trials[3:]
    for trial, nll_valid in zip(gru, (8.6, 8.4, 8.5), strict=True):
        write_metrics(run_dir_for(tmp_path, trial.trial_id), "ok", nll_valid)
    for trial, status in zip(lstm, ("ok", "ok", "running"), strict=True):
        write_metrics(run_dir_for(tmp_path, trial.trial_id), status, 8.0)

    plan = best_seed_trials(trials, tmp_path, seeds=3)

    assert plan.waiting == ["jsb/lstm"]  # a trial still running: no seeds for it yet
    assert [(t.cell, t.lr, t.seed) for t in plan.trials] == [
        ("gru", gru[1].lr, 1),
        ("gru", gru[1].lr, 2),
    ]


def test_a_diverged_rate_is_never_chosen_and_no_usable_rate_means_waiting(
    tmp_path: Path,
) -> None:
    trials = materialize(search())
    write_metrics(run_dir_for(tmp_path, trials[0].trial_id), "diverged", None)
    write_metrics(run_dir_for(tmp_path, trials[1].trial_id), "ok", 9.0)
    write_metrics(run_dir_for(tmp_path, trials[2].trial_id), "ok", 9.5)
    assert {t.lr for t in best_seed_trials(trials, tmp_path, 2).trials} == {trials[1].lr}
    write_metrics(run_dir_for(tmp_path, trials[1].trial_id), "diverged", None)
    write_metrics(run_dir_for(tmp_path, trials[2].trial_id), "diverged", None)
    assert best_seed_trials(trials, tmp_path, 2).waiting == ["jsb/gru"]


def test_a_rate_that_diverged_after_its_best_epoch_competes_on_its_best_weights(
    tmp_path: Path,
) -> None:
    """Divergence stops a run like early stopping: with best weights evaluated (finite valid and
    test NLL) it is a result, chosen by validation NLL like any other, as compare chooses."""
    trials = materialize(search())
    write_metrics(run_dir_for(tmp_path, trials[0].trial_id), "diverged", 8.0)
    write_metrics(run_dir_for(tmp_path, trials[1].trial_id), "ok", 9.0)
    write_metrics(run_dir_for(tmp_path, trials[2].trial_id), "ok", 9.5)
    assert {t.lr for t in best_seed_trials(trials, tmp_path, 2).trials} == {trials[0].lr}


@pytest.mark.mirror
@pytest.mark.slow
def test_sweep_best_seeds_trains_the_seeds_and_a_rerun_skips_everything(
    sweep_env: dict[str, str], tmp_path: Path
) -> None:
    results = tmp_path / "results"
    sets = [arg for override in TINY for arg in ("--set", override)]
    args = ["sweep", str(PAPER / "jsb-gru.yaml"), "--results-dir", str(results), *sets]
    args += ["--trials", "2", "--best-seeds", "3", "--workers", "2"]
    runner = CliRunner()

    first = runner.invoke(app, args)

    assert first.exit_code == 0, first.output
    listed = json.loads((results / TRIALS_JSON).read_text())["trials"]
    assert [trial["seed"] for trial in listed] == [0, 0, 1, 2]
    metrics = [read_metrics(results / "runs" / trial["trial_id"]) for trial in listed]
    assert all(m.status in {"ok", "diverged"} for m in metrics)
    best = min(metrics[:2], key=lambda m: m.nll_valid or float("inf"))
    assert {m.lr for m in metrics[2:]} == {best.lr}
    assert "2 seed trials: 0 finished earlier" in first.stdout

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "2 trials: 2 finished earlier, 0 ok" in again.stdout
    assert "2 seed trials: 2 finished earlier, 0 ok" in again.stdout
    assert "ran part of" not in again.output


def test_negative_best_seeds_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(PAPER / "jsb-gru.yaml"),
            "--results-dir",
            str(tmp_path),
            "--best-seeds",
            "-1",
        ],
    )
    assert result.exit_code == 2 and "--best-seeds must be between 0 and 1000" in result.output

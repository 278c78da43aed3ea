"""`rnnbench sweep` on JSB with tiny models: run, resume, refuse a change, report a crash."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, read_metrics
from rnnbench.sweep import BaseConfig, SweepSpec, materialize
from rnnbench.sweep.trial_list import TRIALS_JSON
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

JSB_GRU = REPO_ROOT / "configs" / "paper" / "jsb-gru.yaml"
TINY = ("model.hidden_size=4", "train.max_epochs=1", "data.max_sequences=20")


def sweep_args(results_dir: Path, *extra: str) -> list[str]:
    sets = [arg for override in TINY for arg in ("--set", override)]
    return ["sweep", str(JSB_GRU), "--results-dir", str(results_dir), *sets, *extra]


def file_stamps(results_dir: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(results_dir)): (path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted((results_dir / "runs").rglob("*"))
        if path.is_file()
    }


def test_sweep_runs_each_trial_once_and_a_rerun_skips_them(
    sweep_env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    results = tmp_path / "results"
    first = runner.invoke(
        app, sweep_args(results, "--trials", "2", "--seeds", "2", "--workers", "2")
    )
    assert first.exit_code == 0, first.output
    trials = json.loads((results / TRIALS_JSON).read_text())["trials"]
    assert len(trials) == 4
    assert sorted({trial["seed"] for trial in trials}) == [0, 1]
    for trial in trials:
        run_dir = results / "runs" / trial["trial_id"]
        metrics = read_metrics(run_dir)
        assert metrics.status in {"ok", "diverged"}
        assert metrics.config_hash == trial["trial_id"]
        assert metrics.lr == pytest.approx(trial["lr"])
        assert (run_dir / CONFIG_FILE).is_file()
    assert "4 trials: 0 finished earlier" in first.stdout
    stamps = file_stamps(results)

    again = runner.invoke(app, sweep_args(results, "--trials", "2", "--seeds", "2"))
    assert again.exit_code == 0, again.output
    assert "4 trials: 4 finished earlier, 0 ok" in again.stdout
    assert file_stamps(results) == stamps

    changed = runner.invoke(app, sweep_args(results, "--trials", "2", "--sweep-seed", "7"))
    assert changed.exit_code == 2
    assert "trials.json holds a different sweep" in changed.output
    assert "Traceback" not in changed.output

    subset = runner.invoke(app, sweep_args(results, "--trials", "1", "--seeds", "2"))
    assert subset.exit_code == 0, subset.output
    assert "ran part of the 4 trials" in subset.output
    assert file_stamps(results) == stamps


def test_a_crashed_trial_is_reported_and_the_sweep_exits_1_after_the_rest(
    sweep_env: dict[str, str], tmp_path: Path
) -> None:
    results = tmp_path / "results"
    spec = SweepSpec(bases=(BaseConfig(JSB_GRU),), trials=2, overrides=TINY)
    broken = materialize(spec)[0].trial_id
    (results / "runs" / broken).mkdir(parents=True)
    (results / "runs" / broken / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")

    result = CliRunner().invoke(app, sweep_args(results, "--trials", "2", "--workers", "1"))
    assert result.exit_code == 1, result.output
    assert f"failed {broken}: " in result.output
    assert "1 failed" in result.stdout
    other = materialize(spec)[1].trial_id
    assert read_metrics(results / "runs" / other).status in {"ok", "diverged"}
    assert not (results / "runs" / broken / METRICS_FILE).exists() or (
        read_metrics(results / "runs" / broken).status not in {"ok", "diverged"}
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--datasets", "jsbb"], "configs/paper/jsbb-"),
        (["--trials", "0"], "--trials must be between 1 and 10000, got 0"),
        (["--trials", "100000000000000"], "--trials must be between 1 and 10000"),
        (["--seeds", "5000"], "--seeds must be between 1 and 1000"),
        (["--best-seeds", "5000"], "--best-seeds must be between 0 and 1000"),
        (["--workers", "99"], "--workers 99 exceeds"),
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    config = [] if "--datasets" in args else [str(JSB_GRU)]
    result = CliRunner().invoke(app, ["sweep", *config, "--results-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_ray_executor_without_ray_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    args = ["sweep", str(JSB_GRU), "--executor", "ray", "--results-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "pip install 'rnnbench[ray]'" in result.output

"""A cell from outside the package (examples/mgu, Zhou et al. 2016's minimal gated unit) through
the CLI with no change to rnnbench: train, sample, sweep, reproduce, compare, the gate, bench."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import CONFIG_FILE, read_metrics
from rnnbench.sweep import read_trial_list
from tests.cells.conftest import EXAMPLE, MGU

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

MGU_SOURCE = EXAMPLE / "mgu" / "cells.py"
MGU_SIZE = 62  # hidden_size auto: 18,724 recurrent parameters, nearest the paper's budget
MGU_PARAMETERS = 2 * (88 * MGU_SIZE + MGU_SIZE * MGU_SIZE + MGU_SIZE)
TINY = ("data.max_sequences=8", "train.max_epochs=2")


def write_config(path: Path, cell: str) -> Path:
    """A user's config for their cell: everything else is the paper's protocol (the defaults)."""
    path.write_text(yaml.safe_dump({"data": {"name": "jsb"}, "model": {"cell": cell}}))
    return path


def sets(*overrides: str) -> list[str]:
    return [argument for override in overrides for argument in ("--set", override)]


def test_the_example_cell_trains_by_import_path_and_samples(
    mgu_importable: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(tmp_path / "mgu.yaml", MGU)
    run_dir = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir), *sets(*TINY)])
    assert result.exit_code == 0, result.output
    metrics = read_metrics(run_dir)
    assert (metrics.status, metrics.cell, metrics.hidden_size) == ("ok", MGU, MGU_SIZE)
    assert metrics.params_recurrent == MGU_PARAMETERS == 18_724
    assert metrics.params_total == MGU_PARAMETERS + MGU_SIZE * 88 + 88
    assert metrics.nll_test is not None and metrics.nll_test < 61.0  # below 88 fair coins
    recorded = yaml.safe_load((run_dir / CONFIG_FILE).read_text())
    assert recorded["model"]["hidden_size"] == MGU_SIZE  # auto, resolved in the record
    origin = metrics.cell_origin
    assert origin is not None and origin.import_path == MGU
    assert origin.source_sha256 == hashlib.sha256(MGU_SOURCE.read_bytes()).hexdigest()
    assert origin.source_file == str(MGU_SOURCE.resolve())
    assert origin.distribution is None and origin.version is None  # on PYTHONPATH, not installed

    sampled = runner.invoke(app, ["sample", str(run_dir), "--steps", "16"])
    assert sampled.exit_code == 0, sampled.output
    assert (run_dir / "sample-0.mid").is_file()


def test_an_installed_cell_is_named_by_its_entry_point(
    mgu_installed: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(tmp_path / "mgu.yaml", "mgu")
    run_dir = tmp_path / "run"
    overrides = sets("data.max_sequences=4", "train.max_epochs=1")
    result = CliRunner().invoke(app, ["train", str(config), "--run-dir", str(run_dir), *overrides])
    assert result.exit_code == 0, result.output
    metrics = read_metrics(run_dir)
    assert (metrics.cell, metrics.hidden_size) == ("mgu", MGU_SIZE)
    origin = metrics.cell_origin
    assert origin is not None
    assert (origin.entry_point, origin.import_path) == ("mgu", MGU)
    assert (origin.distribution, origin.version) == ("rnnbench-mgu", "0.1.0")


def test_a_sweep_of_the_cell_is_compared(mgu_importable: dict[str, str], tmp_path: Path) -> None:
    """Two trials on the local process pool (the workers import the cell themselves), and the
    compare row labelled by the cell's name."""
    config = write_config(tmp_path / "mgu.yaml", MGU)
    results = tmp_path / "results"
    runner = CliRunner()
    swept = runner.invoke(
        app,
        ["sweep", str(config), "--trials", "2", "--workers", "2", "--results-dir", str(results),
         *sets(*TINY)],
    )  # fmt: skip
    assert swept.exit_code == 0, swept.output
    trials = read_trial_list(results)
    assert len(trials) == 2 and {trial.cell for trial in trials} == {MGU}
    for trial in trials:
        assert read_metrics(results / "runs" / trial.trial_id).status == "ok"

    compared = runner.invoke(app, ["compare", str(results), "--format", "json"])
    assert compared.exit_code == 0, compared.output
    rows = json.loads(compared.stdout)
    assert [(row["cell"], row["hidden_size"]) for row in rows] == [(MGU, MGU_SIZE)]
    assert rows[0]["n_settings"] == 2  # the two learning rates, the better one chosen


def test_the_examples_ci_config_gates_the_installed_cell(
    mgu_installed: dict[str, str], tmp_path: Path
) -> None:
    """docs/ci.md: train the project's CI config, save a baseline, gate against it."""
    results = tmp_path / "results"
    runner = CliRunner()
    trained = runner.invoke(
        app,
        ["train", str(EXAMPLE / "ci" / "jsb-mgu.yaml"), "--results-dir", str(results),
         *sets("train.max_epochs=1", "data.max_sequences=8")],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    baseline = tmp_path / "baseline.json"
    saved = runner.invoke(app, ["compare", str(results), "--save-baseline", str(baseline)])
    assert saved.exit_code == 0, saved.output
    held = runner.invoke(app, ["compare", str(results), "--baseline", str(baseline)])
    assert held.exit_code == 0, held.output
    assert "ok         jsb (first 8)/mgu/paper" in held.stderr

    stored = json.loads(baseline.read_text())
    for row in stored["rows"]:
        row["nll_test"] -= 1.0  # a baseline one nat better: the cell regressed against it
    baseline.write_text(json.dumps(stored))
    failed = runner.invoke(app, ["compare", str(results), "--baseline", str(baseline)])
    assert failed.exit_code == 1, failed.output
    regressed = [line for line in failed.stderr.splitlines() if "REGRESSED" in line]
    assert regressed and all("jsb (first 8)/mgu/paper" in line for line in regressed)


def test_reproduce_prints_a_paper_cell_and_the_plugin_side_by_side(
    mgu_importable: dict[str, str], tmp_path: Path
) -> None:
    results = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        ["reproduce", "--cells", f"gru,{MGU}", "--datasets", "jsb", "--trials", "1",
         "--results-dir", str(results), *sets(*TINY)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| jsb")]
    assert [row.split("|")[2].strip() for row in rows[:2]] == ["gru", MGU]
    trials = {trial.cell: trial for trial in read_trial_list(results)}
    assert trials["gru"].hidden_size == 46 and trials[MGU].hidden_size == MGU_SIZE
    gru, mgu = trials["gru"].config, trials[MGU].config
    # The plugin runs under the dataset's paper protocol: the same config but cell, size and lr.
    for config in (gru, mgu):
        config["model"].pop("cell"), config["model"].pop("hidden_size"), config["optim"].pop("lr")
    assert gru == mgu


def test_bench_races_the_cell_beside_torchs_fused_gru(mgu_importable: dict[str, str]) -> None:
    tiny = ["--batch", "2", "--seq-len", "5", "--repeats", "1", "--warmup", "0", "--threads", "1"]
    result = CliRunner().invoke(app, ["bench", "--cells", MGU, *tiny, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(row["cell"], row["impl"], row["hidden_size"]) for row in rows] == [
        (MGU, "plugin", MGU_SIZE),
        (MGU, "torch-fused-gru", 46),
    ]
    assert rows[1]["ratio_vs_torch_fused"] == 1.0 and rows[0]["frames_per_s"] > 0


def test_ray_workers_import_the_cell_themselves(
    mgu_importable: dict[str, str], tmp_path: Path
) -> None:
    """On a local 2-CPU Ray the tasks get the config only and resolve the import path there."""
    pytest.importorskip("ray")
    config = write_config(tmp_path / "mgu.yaml", MGU)
    results = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        ["sweep", str(config), "--executor", "ray", "--workers", "2", "--trials", "2",
         "--results-dir", str(results), *sets("data.max_sequences=4", "train.max_epochs=1")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for trial in read_trial_list(results):
        metrics = read_metrics(results / "runs" / trial.trial_id)
        assert metrics.status == "ok" and metrics.cell_origin is not None
        assert metrics.cell_origin.import_path == MGU

"""Bad input to train, sample and reproduce: one line naming the field, exit 2 or 1."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import CHECKPOINT_FILE, METRICS_FILE, read_metrics
from rnnbench.train import train

REPO = Path(__file__).resolve().parents[2]
SMOKE = str(REPO / "configs" / "smoke.yaml")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=.inf", "optim.lr: Input should be a finite number"),
        ("optim.weight_noise=.nan", "optim.weight_noise: Input should be a finite number"),
        ("seed=100000000000000000000000", "seed: Input should be less than or equal to"),
        ("seed=-1", "seed: Input should be greater than or equal to 0"),
        ("train.batch_size=true", "train.batch_size: Input should be a valid integer"),
        ("model.hidden_size=8.5", "model.hidden_size: Input should be a valid integer"),
    ],
)
def test_out_of_range_values_are_config_errors(tmp_path: Path, override: str, message: str) -> None:
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", SMOKE, "--set", override, "--run-dir", str(run_dir)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not run_dir.exists()  # nothing written for a config that never validated


def test_a_binary_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bin.yaml"
    config.write_bytes(b"\xff\xfe\x00garbage")
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2
    assert f"{config}: not a text file" in result.output


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "dup.yaml"
    config.write_text((REPO / "configs" / "smoke.yaml").read_text() + "seed: 3\nseed: 4\n")
    result = CliRunner().invoke(app, ["train", str(config), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert f"{config}: YAML syntax error at line" in result.output
    assert "key 'seed' appears twice" in result.output


@pytest.mark.mirror
def test_a_run_dir_that_is_a_file_is_one_line(tmp_path: Path, data_dir_all: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    data = f"data.data_dir={data_dir_all}"
    args = ["train", SMOKE, "--set", data, "--run-dir", str(blocker / "run")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(blocker) in lines[0]


@pytest.mark.parametrize("bpm", ["nan", "inf", "0.5", "5000"])
def test_sample_refuses_a_tempo_midi_cannot_hold(tmp_path: Path, bpm: str) -> None:
    result = CliRunner().invoke(app, ["sample", str(tmp_path), "--bpm", bpm])
    assert result.exit_code == 2 and "--bpm must be between 1 and 1000" in result.output


def test_reproduce_quick_refuses_a_trial_count(tmp_path: Path) -> None:
    args = ["reproduce", "--quick", "--trials", "3", "--results-dir", str(tmp_path / "r")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--quick runs 1 trial per pair" in result.output
    assert not (tmp_path / "r").exists()


def test_a_foreign_checkpoint_is_named_on_resume(
    tmp_path: Path, synthetic_splits: dict[str, list], tiny_config: object
) -> None:
    config = tiny_config(train={"max_epochs": 2})  # type: ignore[operator]
    run_dir = tmp_path / "run"
    train(config, run_dir, splits=synthetic_splits)
    (run_dir / METRICS_FILE).unlink()
    torch.save({"format": 1}, run_dir / CHECKPOINT_FILE)  # the right format tag, nothing else
    from rnnbench.errors import TrainingError

    with pytest.raises(TrainingError, match=r"not an rnnbench checkpoint .*'config_hash'"):
        train(config, run_dir, resume=True, splits=synthetic_splits)


def test_a_truncated_metrics_file_is_resumed_not_fatal(
    tmp_path: Path, synthetic_splits: dict[str, list], tiny_config: object
) -> None:
    """The sweep's resume rule: an unreadable metrics.json means a partial run, run again."""
    config = tiny_config(train={"max_epochs": 2})  # type: ignore[operator]
    run_dir = tmp_path / "run"
    first = train(config, run_dir, splits=synthetic_splits)
    (run_dir / METRICS_FILE).write_text('{"run_id": "x", "sta')
    again = train(config, run_dir, resume=True, splits=synthetic_splits)
    assert again.status == "ok" and read_metrics(run_dir).nll_test == first.nll_test

"""A checkpoint edited, damaged or written for another config fails on load, before training,
with one line naming the checkpoint file and the entry at fault (resume and sample)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.config import Config
from rnnbench.errors import TrainingError
from rnnbench.records import CHECKPOINT_FILE, METRICS_FILE
from rnnbench.train import train

Splits = dict[str, list[np.ndarray]]


def trained_once(tmp_path: Path, config: Config, splits: Splits) -> Path:
    """A run that finished 1 of its 2 epochs: its checkpoint is resumable."""
    run_dir = tmp_path / "run"
    train(config, run_dir, splits=splits)
    (run_dir / METRICS_FILE).unlink()  # as if interrupted after the last checkpoint
    return run_dir


def edit_checkpoint(run_dir: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = run_dir / CHECKPOINT_FILE
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, path)


def set_entry(*path: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets checkpoint[path[0]][path[1]]... to value."""

    def edit(checkpoint: dict[str, Any]) -> None:
        node: Any = checkpoint
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def wrong_shape(checkpoint: dict[str, Any]) -> None:
    checkpoint["best_model"]["output.bias"] = torch.zeros(3)


def short_history(checkpoint: dict[str, Any]) -> None:
    checkpoint["progression"]["history"] = []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            set_entry("progression", "epoch", value="x"),
            "'progression.epoch': expected an integer in 0..1",
        ),
        (
            set_entry("progression", "epoch", value=10**6),
            "'progression.epoch': expected an integer",
        ),
        (
            set_entry("progression", "history", value=5),
            "'progression.history': expected a list of 1 rows",
        ),
        (short_history, "'progression.history': expected a list of 1 rows, got 0 rows"),
        (
            set_entry("progression", "history", 0, "nll_valid", value="a"),
            "'progression.history.0.nll_valid'",
        ),
        (
            set_entry("progression", "best_nll_valid", value=math.nan),
            "'progression.best_nll_valid'",
        ),
        (set_entry("progression", "bad_epochs", value=1), "'progression.bad_epochs'"),
        (
            set_entry("progression", "wall_time_s", value=-1.0),
            "'progression.wall_time_s': negative",
        ),
        (set_entry("progression", "extra", value=1), "'progression.extra': unknown entry"),
        (set_entry("best_model", value={"a": 1}), "'best_model.output.bias': missing"),
        (wrong_shape, "'best_model.output.bias': shape (3,) does not fit"),
        (
            set_entry("model", "output.weight", value=[1.0]),
            "'model.output.weight': expected a float tensor",
        ),
        (
            set_entry("optimizer", "param_groups", 0, "lr", value="fast"),
            "'optimizer.param_groups.0.lr'",
        ),
        (
            set_entry("optimizer", "state", 0, "square_avg", value=torch.zeros(2)),
            "'optimizer.state.0.square",
        ),
        (set_entry("rng", "torch", value=torch.zeros(3)), "'rng.torch'"),
    ],
)
def test_a_bad_entry_is_named_before_training(
    tmp_path: Path,
    synthetic_splits: Splits,
    tiny_config: Callable[..., Config],
    edit: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    config = tiny_config(train={"max_epochs": 1})
    run_dir = trained_once(tmp_path, config, synthetic_splits)
    edit_checkpoint(run_dir, edit)
    with pytest.raises(TrainingError) as caught:
        train(config, run_dir, resume=True, splits=synthetic_splits)
    text = str(caught.value)
    assert text.startswith(f"{run_dir / CHECKPOINT_FILE}: bad checkpoint entry ")
    assert message in text and "\n" not in text
    assert not (run_dir / METRICS_FILE).exists()  # refused before anything was written


def test_an_untouched_checkpoint_still_resumes(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: Callable[..., Config]
) -> None:
    config = tiny_config(train={"max_epochs": 1})
    run_dir = trained_once(tmp_path, config, synthetic_splits)
    metrics = train(config, run_dir, resume=True, splits=synthetic_splits)
    assert metrics.status == "ok" and metrics.epochs == 1


def test_optimizer_implementation_flags_do_not_block_a_resume(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: Callable[..., Config]
) -> None:
    """Checkpoints written before the optimizer was built with foreach=True hold foreach=None;
    that flag changes how RMSProp runs, not what it computes, so they still resume."""
    config = tiny_config(train={"max_epochs": 1})
    run_dir = trained_once(tmp_path, config, synthetic_splits)
    edit_checkpoint(run_dir, set_entry("optimizer", "param_groups", 0, "foreach", value=None))
    metrics = train(config, run_dir, resume=True, splits=synthetic_splits)
    assert metrics.status == "ok" and metrics.epochs == 1


def test_sample_names_the_entry_that_does_not_fit(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: Callable[..., Config]
) -> None:
    config = tiny_config(train={"max_epochs": 1})
    run_dir = trained_once(tmp_path, config, synthetic_splits)
    edit_checkpoint(run_dir, wrong_shape)
    result = CliRunner().invoke(app, ["sample", str(run_dir), "--steps", "2"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {run_dir / CHECKPOINT_FILE}: does not match")
    assert "'best_model.output.bias': shape (3,)" in lines[0]


@pytest.fixture(scope="module")
def jsb_data_dir(mirror_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rnnbench.data import fetch

    data_dir = tmp_path_factory.mktemp("data")
    fetch("jsb", data_dir=data_dir, mirror=mirror_dir)
    return data_dir


@pytest.mark.mirror
def test_resume_on_the_command_line_is_one_line_exit_1(
    tmp_path: Path, jsb_data_dir: Path, tiny_config: Callable[..., Config]
) -> None:
    data = {"data_dir": str(jsb_data_dir), "max_sequences": 4}
    config = tiny_config(data=data, train={"max_epochs": 1})
    run_dir = tmp_path / "run"
    train(config, run_dir)
    (run_dir / METRICS_FILE).unlink()
    edit_checkpoint(run_dir, set_entry("progression", "best_nll_valid", value=math.nan))
    result = CliRunner().invoke(app, ["train", "--resume", str(run_dir)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith(f"error: {run_dir / CHECKPOINT_FILE}: bad checkpoint entry ")
    assert "'progression.best_nll_valid'" in lines[-1] and "Traceback" not in result.output

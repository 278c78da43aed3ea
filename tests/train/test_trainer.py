"""The trainer on small synthetic piano-rolls: the run record, determinism, resume, divergence."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnnbench.config import Config, config_hash, load_config
from rnnbench.engine import KERNELS
from rnnbench.errors import TrainingError
from rnnbench.models import get_cell
from rnnbench.models.paper import reference_kernel
from rnnbench.records import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRICS_FILE,
    PER_SEQUENCE_COLUMNS,
    PER_SEQUENCE_FILE,
    read_metrics,
)
from rnnbench.train import Progress, train
from rnnbench.train.evaluate import evaluate
from rnnbench.train.sample import load_trained
from rnnbench.train.state import model_for

Splits = dict[str, list[np.ndarray]]
MakeConfig = Callable[..., Config]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def outcome(run_dir: Path) -> dict[str, Any]:
    """Everything a run computes, without its timings."""
    metrics = read_metrics(run_dir).model_dump()
    for timing in ("wall_time_s", "frames_per_s", "run_id"):
        metrics.pop(timing)
    history = [
        {k: v for k, v in row.items() if k != "wall_time_s"}
        for row in read_csv(run_dir / HISTORY_FILE)
    ]
    checkpoint = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    return {
        "metrics": metrics,
        "history": history,
        "per_sequence": (run_dir / PER_SEQUENCE_FILE).read_text(),
        "best_model": {name: tensor.tolist() for name, tensor in checkpoint["best_model"].items()},
    }


def test_run_record_is_complete_and_consistent(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    config = tiny_config(train={"max_epochs": 6, "patience": 10})
    metrics = train(config, tmp_path / "run", splits=synthetic_splits)
    run_dir = tmp_path / "run"
    assert metrics == read_metrics(run_dir)
    assert metrics.status == "ok" and metrics.epochs == 6 and metrics.run_id == "run"
    assert (metrics.params_recurrent, metrics.params_total) == (
        3 * (88 * 8 + 64 + 8),
        2328 + 8 * 88 + 88,
    )
    assert (
        config_hash(load_config(run_dir / CONFIG_FILE))
        == metrics.config_hash
        == config_hash(config)
    )

    history = read_csv(run_dir / HISTORY_FILE)
    assert tuple(history[0]) == HISTORY_COLUMNS
    assert [int(row["epoch"]) for row in history] == list(range(1, 7))
    valid = [float(row["nll_valid"]) for row in history]
    assert metrics.best_epoch == int(np.argmin(valid)) + 1
    assert metrics.nll_valid == pytest.approx(min(valid), rel=1e-9)  # the best weights were kept
    assert valid[-1] < valid[0]  # it learned something

    rows = read_csv(run_dir / PER_SEQUENCE_FILE)
    assert tuple(rows[0]) == PER_SEQUENCE_COLUMNS
    for split, value in (
        ("train", metrics.nll_train),
        ("valid", metrics.nll_valid),
        ("test", metrics.nll_test),
    ):
        chosen = [row for row in rows if row["split"] == split]
        assert len(chosen) == len(synthetic_splits[split])
        pooled = sum(float(r["nll_sum"]) for r in chosen) / sum(int(r["frames"]) for r in chosen)
        assert pooled == pytest.approx(value, rel=1e-9)
    assert metrics.frame_acc_test is not None and 0 <= metrics.frame_acc_test <= 1

    checkpoint = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    assert checkpoint["finished"] and checkpoint["progression"]["epoch"] == 6
    assert not list(run_dir.glob(".*.tmp"))  # atomic writes left no temporaries


def test_same_seed_same_result_other_seed_other_result(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    train(tiny_config(), tmp_path / "a", splits=synthetic_splits)
    train(tiny_config(), tmp_path / "b", splits=synthetic_splits)
    train(tiny_config(seed=4), tmp_path / "c", splits=synthetic_splits)
    assert outcome(tmp_path / "a") == outcome(tmp_path / "b")
    assert (
        outcome(tmp_path / "a")["metrics"]["nll_test"]
        != outcome(tmp_path / "c")["metrics"]["nll_test"]
    )


def interrupt_at_epoch(epoch: int) -> Callable[[Progress], None]:
    def callback(event: Progress) -> None:
        if event.stage == "epoch" and event.epoch == epoch:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_resume_after_an_interrupt_ends_at_the_uninterrupted_result(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig, cell: str
) -> None:
    config = tiny_config(model={"cell": cell}, train={"max_epochs": 5})
    train(config, tmp_path / "reference", splits=synthetic_splits)

    stopped = train(
        config, tmp_path / "run", splits=synthetic_splits, progress=interrupt_at_epoch(2)
    )
    assert stopped.status == "interrupted" and stopped.epochs == 2
    assert read_metrics(tmp_path / "run").status == "interrupted"
    assert not (tmp_path / "run" / PER_SEQUENCE_FILE).exists()

    resumed = train(config, tmp_path / "run", resume=True, splits=synthetic_splits)
    assert resumed.status == "ok" and resumed.epochs == 5
    assert outcome(tmp_path / "run") == outcome(tmp_path / "reference")


def test_an_interrupt_during_the_warm_up_is_a_resumable_interrupted_run(
    tmp_path: Path,
    synthetic_splits: Splits,
    tiny_config: MakeConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while the model is warmed up (on a fresh machine: while the engine builds) ends
    the run as interrupted before epoch 1; the resumed run is the uninterrupted one."""
    config = tiny_config(train={"max_epochs": 2})
    train(config, tmp_path / "reference", splits=synthetic_splits)
    kernel = KERNELS.get("gru") or reference_kernel(get_cell("gru"))

    def interrupting_warm_up(*args: Any) -> torch.Tensor:
        if not torch.is_grad_enabled():  # the warm-up comes before any training step
            raise KeyboardInterrupt
        return kernel(*args)

    monkeypatch.setitem(KERNELS, "gru", interrupting_warm_up)
    stopped = train(config, tmp_path / "run", splits=synthetic_splits)
    assert (stopped.status, stopped.epochs) == ("interrupted", 0)
    monkeypatch.setitem(KERNELS, "gru", kernel)
    train(config, tmp_path / "run", resume=True, splits=synthetic_splits)
    assert outcome(tmp_path / "run") == outcome(tmp_path / "reference")


def test_resume_after_an_interrupt_in_the_middle_of_an_epoch(
    tmp_path: Path,
    synthetic_splits: Splits,
    tiny_config: MakeConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C inside a training step (the 12th step: epoch 3, as an epoch has 5 batches):
    the partial epoch is dropped and redone from the last checkpoint."""
    config = tiny_config(train={"max_epochs": 4})
    train(config, tmp_path / "reference", splits=synthetic_splits)
    calls = {"count": 0}
    kernel = KERNELS.get("gru") or reference_kernel(get_cell("gru"))  # the one the reference used

    def interrupting_kernel(*args: Any) -> torch.Tensor:
        if not torch.is_grad_enabled():  # an evaluation or the warm-up, not a training step
            return kernel(*args)
        calls["count"] += 1
        if calls["count"] == 12:
            raise KeyboardInterrupt
        return kernel(*args)

    monkeypatch.setitem(KERNELS, "gru", interrupting_kernel)
    stopped = train(config, tmp_path / "run", splits=synthetic_splits)
    assert stopped.status == "interrupted" and stopped.epochs == 2
    train(config, tmp_path / "run", resume=True, splits=synthetic_splits)
    assert outcome(tmp_path / "run") == outcome(tmp_path / "reference")


def test_a_huge_learning_rate_diverges_and_keeps_the_record(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    metrics = train(tiny_config(optim={"lr": 1e38}), tmp_path / "run", splits=synthetic_splits)
    assert metrics.status == "diverged"
    assert read_metrics(tmp_path / "run").status == "diverged"
    assert metrics.nll_test is None
    assert (tmp_path / "run" / CONFIG_FILE).is_file()


def test_divergence_after_two_epochs_evaluates_the_best_weights_so_far(
    tmp_path: Path,
    synthetic_splits: Splits,
    tiny_config: MakeConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A NaN in epoch 3 (the 11th step; an epoch has 5 batches) stops the run like early
    stopping: the best weights of epochs 1-2 are evaluated, exactly as in a run capped at 2."""
    train(tiny_config(train={"max_epochs": 2}), tmp_path / "reference", splits=synthetic_splits)
    calls = {"count": 0}
    kernel = KERNELS.get("gru") or reference_kernel(get_cell("gru"))

    def diverging_kernel(*args: Any) -> torch.Tensor:
        training = torch.is_grad_enabled()  # training steps only, not evaluation
        calls["count"] += training
        output: torch.Tensor = kernel(*args)
        return output * math.nan if training and calls["count"] == 11 else output

    monkeypatch.setitem(KERNELS, "gru", diverging_kernel)
    metrics = train(tiny_config(train={"max_epochs": 4}), tmp_path / "run", splits=synthetic_splits)
    reference = read_metrics(tmp_path / "reference")
    assert (metrics.status, metrics.epochs) == ("diverged", 2)
    assert metrics.best_epoch == reference.best_epoch
    for split in ("nll_train", "nll_valid", "nll_test"):
        assert getattr(metrics, split) == getattr(reference, split), split
    per_sequence = (tmp_path / "run" / PER_SEQUENCE_FILE).read_text()
    assert per_sequence == (tmp_path / "reference" / PER_SEQUENCE_FILE).read_text()
    assert len(read_csv(tmp_path / "run" / HISTORY_FILE)) == 2
    assert read_metrics(tmp_path / "run") == metrics


def test_early_stopping_after_patience_epochs_without_improvement(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    """A step size too small to move float32 weights: validation never improves after epoch 1."""
    config = tiny_config(
        optim={"lr": 1e-30, "weight_noise": 0.0}, train={"max_epochs": 50, "patience": 3}
    )
    metrics = train(config, tmp_path / "run", splits=synthetic_splits)
    assert (metrics.epochs, metrics.best_epoch) == (4, 1)


@pytest.mark.parametrize("variant", ["paper", "fused"])
def test_batch_size_one_and_both_variants_train(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig, variant: str
) -> None:
    config = tiny_config(
        model={"variant": variant, "cell": "lstm"}, train={"batch_size": 1, "max_epochs": 1}
    )
    metrics = train(config, tmp_path / "run", splits=synthetic_splits)
    assert metrics.status == "ok" and metrics.variant == variant
    assert metrics.nll_test is not None and np.isfinite(metrics.nll_test)


def test_run_directories_are_not_overwritten_and_resume_checks_the_config(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    config = tiny_config(train={"max_epochs": 1})
    first = train(config, tmp_path / "run", splits=synthetic_splits)
    with pytest.raises(TrainingError, match="already holds a run"):
        train(config, tmp_path / "run", splits=synthetic_splits)
    # resuming a finished run is a no-op returning its metrics
    assert train(config, tmp_path / "run", resume=True, splits=synthetic_splits) == first
    stopped = tiny_config(train={"max_epochs": 3})
    train(stopped, tmp_path / "other", splits=synthetic_splits, progress=interrupt_at_epoch(1))
    with pytest.raises(TrainingError, match="config differs"):
        train(
            tiny_config(train={"max_epochs": 3}, seed=9),
            tmp_path / "other",
            resume=True,
            splits=synthetic_splits,
        )
    assert (tmp_path / "run" / METRICS_FILE).is_file()


def test_thinned_training_split_evaluation_changes_nothing_else(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    """eval_train_every = 3: nll_train at epochs 1, 3, 6 and the last (7); every other number
    (validation curve, selection, final metrics, best weights) and the config hash unchanged."""
    every = tiny_config(train={"max_epochs": 7, "eval_train_every": 3})
    always = tiny_config(train={"max_epochs": 7})
    assert config_hash(every) == config_hash(always)
    train(every, tmp_path / "every", splits=synthetic_splits)
    train(always, tmp_path / "always", splits=synthetic_splits)
    thinned, full = outcome(tmp_path / "every"), outcome(tmp_path / "always")
    assert [row["nll_train"] != "" for row in thinned["history"]] == [
        True, False, True, False, False, True, True
    ]  # fmt: skip
    for row_thinned, row_full in zip(thinned["history"], full["history"], strict=True):
        if row_thinned["nll_train"]:
            assert row_thinned == row_full
        else:
            assert {**row_thinned, "nll_train": row_full["nll_train"]} == row_full
    assert thinned["metrics"] == full["metrics"]
    assert thinned["best_model"] == full["best_model"]
    assert thinned["per_sequence"] == full["per_sequence"]


def test_thinned_evaluation_covers_the_epoch_patience_ends_on(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    config = tiny_config(
        optim={"lr": 1e-30, "weight_noise": 0.0},
        train={"max_epochs": 50, "patience": 3, "eval_train_every": 10},
    )
    metrics = train(config, tmp_path / "run", splits=synthetic_splits)
    history = read_csv(tmp_path / "run" / HISTORY_FILE)
    assert metrics.epochs == 4
    assert [row["nll_train"] != "" for row in history] == [True, False, False, True]
    assert float(history[-1]["nll_train"]) > 0


def test_the_multi_tensor_optimizer_gives_the_single_tensor_numbers(
    tiny_config: MakeConfig,
) -> None:
    """build_optimizer uses foreach RMSProp for speed; runs recorded with the per-tensor loop
    must still reproduce bit for bit."""
    from rnnbench.train.state import fresh_state
    from rnnbench.train.step import build_optimizer

    config = tiny_config()
    fast, plain = fresh_state(config, torch.device("cpu")), fresh_state(config, torch.device("cpu"))
    optim = config.optim
    reference = torch.optim.RMSprop(
        plain.model.parameters(),
        lr=optim.lr,
        alpha=optim.rmsprop_decay,
        eps=optim.rmsprop_eps,
        foreach=False,
    )
    optimizer = build_optimizer(fast.model.parameters(), config.optim)
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        for left, right in zip(fast.model.parameters(), plain.model.parameters(), strict=True):
            gradient = torch.randn(left.shape, generator=generator)
            left.grad, right.grad = gradient.clone(), gradient.clone()
        optimizer.step()
        reference.step()
    for left, right in zip(fast.model.parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(left, right)
    assert any(
        not torch.equal(p, q)
        for p, q in zip(
            fast.model.parameters(),
            fresh_state(config, torch.device("cpu")).model.parameters(),
            strict=True,
        )
    )


def test_a_finished_checkpoint_keeps_the_last_weights_beside_the_best(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    """`model` is the last epoch's weights (what a run without early stopping keeps), `best_model`
    the best by validation (what the metrics measure): each scores its history row again."""
    config = tiny_config(optim={"lr": 0.3}, train={"max_epochs": 8, "patience": 10})
    metrics = train(config, tmp_path / "run", splits=synthetic_splits)
    assert metrics.status == "ok" and metrics.best_epoch < metrics.epochs  # last is not best
    checkpoint = torch.load(tmp_path / "run" / CHECKPOINT_FILE, weights_only=True)
    valid = [float(row["nll_valid"]) for row in read_csv(tmp_path / "run" / HISTORY_FILE)]
    model = model_for(config)
    for entry, expected in (("model", valid[-1]), ("best_model", min(valid))):
        model.load_state_dict(checkpoint[entry])
        result = evaluate(model, synthetic_splits["valid"], torch.device("cpu"), 5)
        assert result.nll == pytest.approx(expected, abs=1e-6), entry


def test_last_weights_of_a_checkpoint_that_did_not_keep_them_are_refused(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    """A finished checkpoint written before the last weights were kept holds the best twice:
    load_trained(run, "last") says so instead of scoring the best weights as the last."""
    config = tiny_config(optim={"lr": 0.3}, train={"max_epochs": 8, "patience": 10})
    run = tmp_path / "run"
    metrics = train(config, run, splits=synthetic_splits)
    assert metrics.best_epoch < metrics.epochs
    _, last = load_trained(run, "last")  # today's checkpoint: the last weights load
    checkpoint = torch.load(run / CHECKPOINT_FILE, weights_only=True)
    best = checkpoint["best_model"]
    assert any(not torch.equal(last.state_dict()[name], best[name]) for name in best)
    checkpoint["model"] = checkpoint["best_model"]  # what the old trainer saved
    torch.save(checkpoint, run / CHECKPOINT_FILE)
    with pytest.raises(TrainingError, match=rf"weights were not kept.*epoch {metrics.epochs}\)"):
        load_trained(run, "last")
    load_trained(run, "best")  # the best weights are still there

"""The librnn update rule, the linear learning-rate schedule and the per-sequence loss, each against
an independent computation, and a real resume under them."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnbench.config import Config, config_hash
from rnnbench.records import HISTORY_FILE
from rnnbench.train import train
from rnnbench.train.batching import make_batch
from rnnbench.train.evaluate import masked_nll, training_loss
from rnnbench.train.optimizers import LibrnnRMSProp, epoch_lr, gradient_clip
from rnnbench.train.step import build_optimizer

MakeConfig = Callable[..., Config]
Splits = dict[str, list[np.ndarray]]
LIBRNN = {"rule": "librnn", "lr_schedule": "linear", "rmsprop_decay": 0.95}


def librnn_reference(
    params: list[np.ndarray], grads: list[list[np.ndarray]], lr: float, clip: float
) -> list[np.ndarray]:
    """librnn's learning rule written out in numpy, one step per entry of `grads`."""
    params = [p.astype(np.float64).copy() for p in params]
    mean_square = [np.zeros_like(p) for p in params]
    velocity = [np.zeros_like(p) for p in params]
    for step in grads:
        for index, grad in enumerate(step):
            mean_square[index] = 0.95 * mean_square[index] + 0.05 * grad**2
            rms = np.maximum(np.sqrt(mean_square[index]), 1e-2)
            velocity[index] = 0.9 * velocity[index] - lr * grad / rms
        norm = np.sqrt(sum(float((v**2).sum()) for v in velocity))
        scale = min(1.0, clip / norm)
        params = [p + scale * v for p, v in zip(params, velocity, strict=True)]
    return params


@pytest.mark.parametrize(("lr", "clip"), [(0.05, 1.0), (2.0, 0.5)])  # unclipped, then clipped
def test_librnn_rule_matches_a_written_out_reference(lr: float, clip: float) -> None:
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    # Tiny gradients in the last parameter: there the RMS floor, not the gradient, sets the step.
    grads = [[rng.normal(size=(3, 4)), 1e-4 * rng.normal(size=(4,))] for _ in range(4)]
    parameters = [torch.nn.Parameter(torch.tensor(p)) for p in start]
    optimizer = LibrnnRMSProp(parameters, lr=lr, alpha=0.95, update_clip=clip)
    for step in grads:
        for parameter, grad in zip(parameters, step, strict=True):
            parameter.grad = torch.tensor(grad)
        optimizer.step()
    expected = librnn_reference(start, grads, lr, clip)
    for parameter, value in zip(parameters, expected, strict=True):
        np.testing.assert_allclose(parameter.detach().numpy(), value, rtol=1e-12, atol=1e-12)


def test_linear_schedule_runs_from_lr_to_a_hundredth(tiny_config: MakeConfig) -> None:
    config = tiny_config(optim={"lr": 0.01, "lr_schedule": "linear"}, train={"max_epochs": 5})
    rates = [epoch_lr(config, epoch) for epoch in range(1, 6)]
    assert rates[0] == pytest.approx(0.01) and rates[-1] == pytest.approx(1e-4)
    assert np.allclose(np.diff(rates), (1e-4 - 0.01) / 4)
    assert epoch_lr(tiny_config(), 5) == 0.01  # constant: the paper's text


def test_librnn_clips_the_update_not_the_gradient(tiny_config: MakeConfig) -> None:
    assert gradient_clip(tiny_config().optim) == 1.0
    config = tiny_config(optim=LIBRNN)
    assert gradient_clip(config.optim) is None
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model.parameters(), config.optim)
    assert isinstance(optimizer, LibrnnRMSProp)
    assert optimizer.param_groups[0]["update_clip"] == 1.0


def test_sequence_average_is_the_sum_over_each_piece(piano_rolls: Callable[..., list]) -> None:
    sequences = piano_rolls(4, 3)
    batch = make_batch(sequences, [0, 1, 2])
    logits = torch.randn(batch.targets.shape, generator=torch.Generator().manual_seed(0))
    sums = masked_nll(logits, batch)  # (B,)
    assert training_loss(logits, batch, "sequence") == pytest.approx(float(sums.mean()))
    assert training_loss(logits, batch, "frame") == pytest.approx(float(sums.sum()) / batch.frames)


def test_the_new_fields_at_their_defaults_keep_every_config_hash(tiny_config: MakeConfig) -> None:
    plain = tiny_config()
    spelled = tiny_config(optim={"rule": "rmsprop", "lr_schedule": "constant"})
    spelled_train = tiny_config(train={"loss_average": "frame"})
    assert config_hash(plain) == config_hash(spelled) == config_hash(spelled_train)
    assert config_hash(plain) != config_hash(tiny_config(optim={"rule": "librnn"}))


def test_librnn_protocol_trains_records_its_schedule_and_resumes_exactly(
    tmp_path: Path, synthetic_splits: Splits, tiny_config: MakeConfig
) -> None:
    config = tiny_config(
        optim=LIBRNN, train={"max_epochs": 4, "patience": 4, "loss_average": "sequence"}
    )
    reference = train(config, tmp_path / "reference", splits=synthetic_splits)
    assert reference.status == "ok" and reference.epochs == 4
    with (tmp_path / "reference" / HISTORY_FILE).open() as handle:
        rates = [float(row["lr"]) for row in csv.DictReader(handle)]
    assert rates == pytest.approx([epoch_lr(config, epoch) for epoch in range(1, 5)])

    def stop_after_two(event: object) -> None:
        if getattr(event, "stage", None) == "epoch" and getattr(event, "epoch", 0) == 2:
            raise KeyboardInterrupt

    stopped = train(config, tmp_path / "run", splits=synthetic_splits, progress=stop_after_two)
    assert stopped.status == "interrupted"
    resumed = train(config, tmp_path / "run", resume=True, splits=synthetic_splits)
    assert resumed.nll_test == reference.nll_test and resumed.nll_valid == reference.nll_valid
    assert (tmp_path / "run" / "per_sequence.csv").read_text() == (
        tmp_path / "reference" / "per_sequence.csv"
    ).read_text()

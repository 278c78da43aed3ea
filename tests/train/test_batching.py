"""Length buckets, padding and masks: padding must change neither the loss nor the gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from rnnbench.models import build_model
from rnnbench.train.batching import Batch, epoch_order, eval_buckets, length_buckets, make_batch
from rnnbench.train.evaluate import evaluate, masked_nll, training_loss

Rolls = Callable[..., list[np.ndarray]]


def test_buckets_cover_every_usable_sequence_once_sorted_by_length(piano_rolls: Rolls) -> None:
    sequences = piano_rolls(0, 23, low=1, high=30)
    buckets = length_buckets(sequences, 4)
    flat = [index for bucket in buckets for index in bucket]
    assert sorted(flat) == [i for i, s in enumerate(sequences) if len(s) >= 2]
    assert [len(sequences[i]) for i in flat] == sorted(len(sequences[i]) for i in flat)
    assert all(len(bucket) == 4 for bucket in buckets[:-1])


@pytest.mark.parametrize(("batch_size", "max_padding"), [(64, 0.1), (4, 0.1), (64, 0.0), (3, 1.0)])
def test_eval_buckets_cap_count_and_padding(
    piano_rolls: Rolls, batch_size: int, max_padding: float
) -> None:
    """Every usable sequence once, in length order; each batch within its count and its padding
    fraction (a single sequence has none), and consecutive batches only split where needed."""
    sequences = piano_rolls(2, 40, low=1, high=200)
    buckets = eval_buckets(sequences, batch_size, max_padding)
    flat = [index for bucket in buckets for index in bucket]
    assert sorted(flat) == [i for i, s in enumerate(sequences) if len(s) >= 2]
    assert [len(sequences[i]) for i in flat] == sorted(len(sequences[i]) for i in flat)

    def padding(bucket: list[int]) -> float:
        steps = [len(sequences[i]) - 1 for i in bucket]
        return 1 - sum(steps) / (len(steps) * max(steps))

    for bucket, following in zip(buckets, [*buckets[1:], []], strict=True):
        assert 1 <= len(bucket) <= batch_size
        assert padding(bucket) <= max_padding + 1e-12
        if following and len(bucket) < batch_size:  # split only because of the padding
            assert padding(bucket + following[:1]) > max_padding
    if max_padding >= 1.0:
        assert [len(bucket) for bucket in buckets[:-1]] == [batch_size] * (len(buckets) - 1)


def test_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    buckets = [[i] for i in range(30)]
    assert epoch_order(buckets, 1, 5) == epoch_order(buckets, 1, 5)
    assert epoch_order(buckets, 1, 5) != epoch_order(buckets, 1, 6)
    assert epoch_order(buckets, 1, 5) != epoch_order(buckets, 2, 5)
    assert sorted(epoch_order(buckets, 1, 5)) == buckets


def test_batches_shift_targets_by_one_frame_and_mask_the_padding() -> None:
    sequences = [np.eye(88, dtype=np.uint8)[:5], np.eye(88, dtype=np.uint8)[10:13]]
    batch = make_batch(sequences, [0, 1])
    assert batch.inputs.shape == (2, 4, 88)
    torch.testing.assert_close(batch.inputs[0], torch.eye(88)[:4])
    torch.testing.assert_close(batch.targets[0], torch.eye(88)[1:5])
    assert batch.mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert batch.frames == 6
    assert batch.inputs[1, 2:].abs().sum() == 0


def garbage_padding(batch: Batch, seed: int) -> Batch:
    """The same batch with random values wherever the mask is False (inputs and targets)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(batch.inputs.shape, generator=generator, dtype=batch.inputs.dtype)
    pad = ~batch.mask.unsqueeze(2)  # (B, L, 1)
    return Batch(
        torch.where(pad, noise, batch.inputs),
        torch.where(pad, noise.round(), batch.targets),
        batch.mask,
        batch.indices,
    )


@pytest.mark.parametrize("cell", ["tanh", "gru", "lstm"])
@pytest.mark.parametrize("variant", ["paper", "fused"])
def test_padding_changes_neither_loss_nor_gradients(
    cell: str, variant: str, piano_rolls: Rolls
) -> None:
    """Each sequence alone (no padding) vs all of them in one padded batch, in float64: the
    per-sequence NLL and the gradient of the summed NLL agree to rounding, whatever the padding
    holds."""
    torch.manual_seed(0)
    model = build_model(cell, variant, 5).double()
    sequences = piano_rolls(4, 4, low=3, high=12)

    def gradients_of(batches: list[Batch]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.zero_grad()
        nll = torch.cat([masked_nll(model(b.inputs), b) for b in batches])  # (N,)
        nll.sum().backward()
        return nll.detach(), [p.grad.clone() for p in model.parameters()]

    def in_float64(batch: Batch) -> Batch:
        return Batch(batch.inputs.double(), batch.targets.double(), batch.mask, batch.indices)

    alone = [in_float64(make_batch(sequences, [i])) for i in range(len(sequences))]
    padded = in_float64(make_batch(sequences, range(len(sequences))))
    assert not bool(padded.mask.all())  # there is padding to test
    nll_alone, grads_alone = gradients_of(alone)
    for candidate in (padded, garbage_padding(padded, 7)):
        nll_padded, grads_padded = gradients_of([candidate])
        torch.testing.assert_close(nll_padded, nll_alone, rtol=1e-13, atol=1e-12)
        for padded_grad, alone_grad in zip(grads_padded, grads_alone, strict=True):
            torch.testing.assert_close(padded_grad, alone_grad, rtol=1e-11, atol=1e-12)


def test_training_loss_is_the_masked_sum_over_notes_per_real_frame(piano_rolls: Rolls) -> None:
    sequences = piano_rolls(5, 3, low=3, high=9)
    batch = make_batch(sequences, [0, 1, 2])
    logits = torch.randn(batch.targets.shape, generator=torch.Generator().manual_seed(0))
    probabilities = torch.sigmoid(logits.double())
    expected = 0.0
    for row, sequence in enumerate(sequences):
        steps = len(sequence) - 1
        target = batch.targets[row, :steps].double()
        p = probabilities[row, :steps]
        expected -= float((target * p.log() + (1 - target) * (1 - p).log()).sum())
    frames = sum(len(s) - 1 for s in sequences)
    assert float(training_loss(logits, batch)) == pytest.approx(expected / frames, rel=1e-5)


def test_evaluation_pools_frames_and_counts_frame_accuracy(piano_rolls: Rolls) -> None:
    torch.manual_seed(1)
    model = build_model("gru", "paper", 6)
    model.train()  # evaluate must switch noise and training mode off by itself, then restore
    sequences = piano_rolls(6, 9, low=1, high=15)
    result = evaluate(model, sequences, torch.device("cpu"), batch_size=4)
    again = evaluate(model, sequences, torch.device("cpu"), batch_size=2)
    assert model.training
    assert result.nll == pytest.approx(again.nll, rel=1e-6)
    assert result.frames == sum(max(len(s) - 1, 0) for s in sequences)
    assert [row[0] for row in result.per_sequence] == list(range(len(sequences)))
    pooled = sum(row[2] for row in result.per_sequence) / sum(row[1] for row in result.per_sequence)
    assert result.nll == pytest.approx(pooled, rel=1e-9)

    model.eval()
    tp = fp = fn = 0
    with torch.no_grad():
        for sequence in sequences:
            if len(sequence) < 2:
                continue
            roll = torch.from_numpy(sequence).float()[None]  # (1, T, 88)
            predicted = model(roll[:, :-1])[0] > 0  # (T-1, 88)
            actual = roll[0, 1:].bool()
            tp += int((predicted & actual).sum())
            fp += int((predicted & ~actual).sum())
            fn += int((~predicted & actual).sum())
    assert result.frame_accuracy == pytest.approx(tp / (tp + fp + fn))

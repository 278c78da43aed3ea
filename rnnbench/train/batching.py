"""Minibatches of piano-rolls: length buckets, right padding, masks.

A sequence of T frames gives inputs frames 1..T−1 and targets frames 2..T. Batches are right-padded:
the recurrence is causal, so padding after a sequence's end cannot reach its real outputs, and the
mask only has to drop the padded positions from the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # (B, L, 88) float, frames 1..T−1, zero after each sequence's end
    targets: torch.Tensor  # (B, L, 88) float, frames 2..T
    mask: torch.Tensor  # (B, L) bool, True at real predicted frames
    indices: tuple[int, ...]  # positions of the sequences in their split

    @cached_property
    def frames(self) -> int:  # computed once: the loss and the frame count both read it
        return int(self.mask.sum())

    def to(self, device: torch.device) -> Batch:
        return Batch(
            self.inputs.to(device), self.targets.to(device), self.mask.to(device), self.indices
        )


def make_batch(sequences: Sequence[np.ndarray], indices: Sequence[int]) -> Batch:
    """Pad the chosen sequences (each (T, 88), T >= 2) into one batch."""
    chosen = [sequences[index] for index in indices]
    steps = max(len(sequence) for sequence in chosen) - 1
    inputs = torch.zeros(len(chosen), steps, chosen[0].shape[1])  # (B, L, 88)
    targets = torch.zeros_like(inputs)  # (B, L, 88)
    mask = torch.zeros(len(chosen), steps, dtype=torch.bool)  # (B, L)
    for row, sequence in enumerate(chosen):
        roll = torch.from_numpy(np.asarray(sequence, dtype=np.float32))  # (T, 88)
        inputs[row, : len(roll) - 1] = roll[:-1]
        targets[row, : len(roll) - 1] = roll[1:]
        mask[row, : len(roll) - 1] = True
    return Batch(inputs, targets, mask, tuple(indices))


def length_buckets(sequences: Sequence[np.ndarray], batch_size: int) -> list[list[int]]:
    """Indices sorted by length (ties by index) and cut into consecutive chunks of batch_size.

    Sequences with fewer than 2 frames predict nothing and are left out.
    """
    usable = [index for index, sequence in enumerate(sequences) if len(sequence) >= 2]
    ordered = sorted(usable, key=lambda index: (len(sequences[index]), index))
    return [ordered[start : start + batch_size] for start in range(0, len(ordered), batch_size)]


def eval_buckets(
    sequences: Sequence[np.ndarray], batch_size: int, max_padding: float = 0.1
) -> list[list[int]]:
    """Length-sorted batches of at most batch_size sequences and at most max_padding of their
    padded frames being padding: a new batch starts rather than pad the ones before.

    Evaluation batches are large, and a fixed count pads heavily where lengths spread widely
    (Piano-midi.de: 49% of a 64-sequence batch's frames at one batch per 64 sorted sequences,
    7% with this rule), and every padded frame costs as much as a real one.
    """
    usable = [index for index, sequence in enumerate(sequences) if len(sequence) >= 2]
    ordered = sorted(usable, key=lambda index: (len(sequences[index]), index))
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0  # predicted frames in `current`
    for index in ordered:
        steps = len(sequences[index]) - 1  # the longest so far: the batch's padded length
        padded = (len(current) + 1) * steps
        if current and (len(current) == batch_size or padded - real - steps > max_padding * padded):
            batches.append(current)
            current, real = [], 0
        current.append(index)
        real += steps
    if current:
        batches.append(current)
    return batches


def epoch_permutation(count: int, seed: int, epoch: int) -> list[int]:
    """The order in which this epoch visits `count` batches: a function of (seed, epoch) only, so
    a resumed run sees the same batches as an uninterrupted one."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    permutation: list[int] = torch.randperm(count, generator=generator).tolist()
    return permutation


def epoch_order(buckets: Sequence[Sequence[int]], seed: int, epoch: int) -> list[list[int]]:
    """The buckets in the shuffled order of this epoch (see epoch_permutation)."""
    return [list(buckets[position]) for position in epoch_permutation(len(buckets), seed, epoch)]

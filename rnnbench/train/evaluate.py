"""Evaluation without weight noise: pooled NLL per frame, frame accuracy, per-sequence NLL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional

from rnnbench.models import SequenceModel
from rnnbench.records import sequence_mean
from rnnbench.train.batching import Batch, eval_buckets, make_batch


def masked_nll(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Per-sequence NLL sums (B,): the 88 Bernoulli terms summed over the real frames."""
    terms = functional.binary_cross_entropy_with_logits(
        logits, batch.targets, reduction="none"
    )  # (B, L, 88)
    per_frame = terms.sum(dim=2) * batch.mask  # (B, L)
    return per_frame.sum(dim=1)  # (B,)


def training_loss(logits: torch.Tensor, batch: Batch, average: str = "frame") -> torch.Tensor:
    """Masked NLL summed over notes, averaged over the batch's real predicted frames, or over its
    sequences (`average="sequence"`: each piece's NLL summed over its frames, librnn's cost)."""
    total = masked_nll(logits, batch).sum()
    return total / (batch.frames if average == "frame" else len(batch.indices))


@dataclass
class SplitResult:
    nll: float  # nats per predicted frame, pooled over the split
    frame_accuracy: float  # TP / (TP + FP + FN) at threshold 0.5
    frames: int
    per_sequence: list[tuple[int, int, float]] = field(default_factory=list)  # (index, frames, nll)
    nll_seqmean: float = float("nan")  # mean over the split's pieces of each one's NLL per frame


@torch.inference_mode()
def evaluate(
    model: SequenceModel,
    sequences: Sequence[np.ndarray],
    device: torch.device,
    batch_size: int,
) -> SplitResult:
    """Evaluate one split in large length-sorted batches with little padding, in eval mode (no
    noise)."""
    was_training = model.training
    model.eval()
    total_nll, total_frames = 0.0, 0
    true_positive = false_positive = false_negative = 0
    per_sequence: dict[int, tuple[int, float]] = {}
    for indices in eval_buckets(sequences, batch_size):
        batch = make_batch(sequences, indices).to(device)
        logits = model(batch.inputs)  # (B, L, 88)
        nll = masked_nll(logits.float(), batch).double().cpu()  # (B,)
        frames = batch.mask.sum(dim=1).cpu()  # (B,)
        predicted = (logits > 0).logical_and_(batch.mask.unsqueeze(2))  # (B, L, 88)
        actual = batch.targets.bool()  # (B, L, 88); targets are zero past each sequence's end
        predicted_count, actual_count = int(predicted.sum()), int(actual.sum())
        batch_hits = int(predicted.logical_and_(actual).sum())  # in place: predicted becomes TP
        true_positive += batch_hits
        false_positive += predicted_count - batch_hits
        false_negative += actual_count - batch_hits
        for row, index in enumerate(indices):
            per_sequence[index] = (int(frames[row]), float(nll[row]))
        total_nll += float(nll.sum())
        total_frames += int(frames.sum())
    model.train(was_training)
    rows = [(index, *per_sequence.get(index, (0, 0.0))) for index in range(len(sequences))]
    hits = true_positive + false_positive + false_negative
    return SplitResult(
        nll=total_nll / total_frames if total_frames else float("nan"),
        frame_accuracy=true_positive / hits if hits else 0.0,
        frames=total_frames,
        per_sequence=rows,
        nll_seqmean=sequence_mean((frames, nll_sum) for _, frames, nll_sum in rows),
    )

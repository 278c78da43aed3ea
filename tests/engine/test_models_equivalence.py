"""At the model level: the paper models on the engine's kernels equal the reference kernels.

float64, weight noise on (same random draws), right-padded batch with the trainer's masked loss;
outputs and every parameter gradient must agree.
"""

from __future__ import annotations

import pytest
import torch

from rnnbench.engine import KERNELS
from rnnbench.models import CELLS, build_model
from rnnbench.train.batching import make_batch
from rnnbench.train.evaluate import training_loss


def run(cell: str, use_engine: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    model = build_model(cell, "paper", 7).double().train()
    generator = torch.Generator().manual_seed(1)
    rolls = [(torch.rand(length, 88, generator=generator) < 0.1).numpy() for length in (9, 4, 6)]
    batch = make_batch(rolls, [0, 1, 2])
    batch = type(batch)(batch.inputs.double(), batch.targets.double(), batch.mask, batch.indices)
    with monkeypatch.context() as patch:
        if not use_engine:
            patch.delitem(KERNELS, cell)
        torch.manual_seed(2)  # identical weight-noise draws on both paths
        logits = model(batch.inputs, weight_noise=0.075)
        loss = training_loss(logits, batch)
        loss.backward()  # type: ignore[no-untyped-call]
    grads = [parameter.grad for parameter in model.parameters()]
    assert all(grad is not None for grad in grads)
    return (logits.detach(), *grads)  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", sorted(KERNELS))
def test_paper_model_engine_matches_reference(
    cell: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CELLS[cell].kernel is not None
    fast = run(cell, True, monkeypatch)
    slow = run(cell, False, monkeypatch)
    for got, want in zip(fast, slow, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)

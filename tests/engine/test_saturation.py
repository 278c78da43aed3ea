"""Saturated gates: huge pre-activations (as after a few large updates) stay finite and exact.

Regression test: the compiled LSTM once computed tanh/sigmoid through an exp that overflowed under
-ffast-math, turning saturated units into NaN and making a healthy training run 'diverge'.
"""

from __future__ import annotations

import pytest
import torch

from rnnbench.engine import KERNELS
from tests.engine.reference import REFERENCES
from tests.engine.test_kernels import make_inputs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cell", sorted(KERNELS))
def test_saturated_units_match_the_reference(cell: str, dtype: torch.dtype) -> None:
    x_proj, recurrent, peephole = make_inputs(cell, 4, 9, 6, seed=3, scale=60.0)
    leaves = [x_proj, recurrent] + ([peephole] if peephole is not None else [])
    leaves = [leaf.detach().to(dtype).requires_grad_(True) for leaf in leaves]
    fast_inputs = (*leaves[:2], leaves[2] if peephole is not None else None)

    fast = KERNELS[cell](*fast_inputs)
    fast_grads = torch.autograd.grad(fast.sum(), leaves)
    slow = REFERENCES[cell](*fast_inputs)
    slow_grads = torch.autograd.grad(slow.sum(), leaves)

    assert torch.isfinite(fast).all()
    tolerance = {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {}
    torch.testing.assert_close(fast, slow, **tolerance)
    for got, want in zip(fast_grads, slow_grads, strict=True):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, **tolerance)

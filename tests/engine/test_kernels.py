"""Every fast kernel equals the per-step autograd reference: outputs and all gradients, float64."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from rnnbench.cells import get_cell
from rnnbench.engine import KERNELS
from rnnbench.errors import UsageError
from tests.engine.reference import REFERENCES

CELLS = sorted(KERNELS)


def make_inputs(
    cell: str, batch: int, steps: int, size: int, *, seed: int = 0, scale: float = 0.6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    generator = torch.Generator().manual_seed(seed)
    width = get_cell(cell).gates * size

    def draw(*shape: int) -> torch.Tensor:
        values = torch.randn(*shape, generator=generator, dtype=torch.float64) * scale
        return values.requires_grad_(True)

    peephole = draw(3, size) if cell == "lstm" else None
    return draw(batch, steps, width), draw(size, width), peephole


def grads_of(output: torch.Tensor, inputs: list[torch.Tensor], weights: torch.Tensor) -> list[Any]:
    return list(torch.autograd.grad((output * weights).sum(), inputs))


def test_registry_covers_paper_cells() -> None:
    assert set(KERNELS) == {"tanh", "gru", "lstm"}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("batch", "steps", "size"), [(3, 7, 5), (1, 1, 4), (4, 23, 9)])
def test_kernel_matches_reference(
    cell: str, batch: int, steps: int, size: int, backend: str
) -> None:
    x_proj, recurrent, peephole = make_inputs(cell, batch, steps, size)
    inputs = [x_proj, recurrent] + ([peephole] if peephole is not None else [])
    fast = KERNELS[cell](x_proj, recurrent, peephole)
    slow = REFERENCES[cell](x_proj, recurrent, peephole)
    assert fast.shape == (batch, steps, size)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    upstream = torch.randn(batch, steps, size, dtype=torch.float64)
    for got, want in zip(
        grads_of(fast, inputs, upstream), grads_of(slow, inputs, upstream), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_kernel_gradcheck(cell: str, backend: str) -> None:
    x_proj, recurrent, peephole = make_inputs(cell, batch=2, steps=5, size=3, seed=1)
    inputs = (x_proj, recurrent) + ((peephole,) if peephole is not None else ())

    def run(*args: torch.Tensor) -> torch.Tensor:
        return KERNELS[cell](args[0], args[1], args[2] if len(args) > 2 else None)

    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("cell", CELLS)
def test_kernel_masked_loss_gradients_match(cell: str, backend: str) -> None:
    """A right-padded batch with a masked loss: padded steps contribute no gradient."""
    x_proj, recurrent, peephole = make_inputs(cell, batch=3, steps=9, size=6, seed=2)
    inputs = [x_proj, recurrent] + ([peephole] if peephole is not None else [])
    lengths = torch.tensor([9, 4, 1])
    mask = (torch.arange(9)[None, :] < lengths[:, None]).to(torch.float64)[..., None]  # (B, T, 1)
    target = torch.rand(3, 9, 6, dtype=torch.float64)
    grads = []
    for kernel in (KERNELS[cell], REFERENCES[cell]):
        loss = (((kernel(x_proj, recurrent, peephole) - target) ** 2) * mask).sum()
        grads.append(torch.autograd.grad(loss, inputs))
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert torch.all(grads[0][0][1, 4:] == 0)


@pytest.mark.parametrize("cell", CELLS)
def test_kernel_float32_close_and_no_grad(cell: str, backend: str) -> None:
    x_proj, recurrent, peephole = make_inputs(cell, batch=4, steps=30, size=8, seed=3)
    args32 = [t.detach().float() if t is not None else None for t in (x_proj, recurrent, peephole)]
    with torch.inference_mode():
        fast = KERNELS[cell](args32[0], args32[1], args32[2])  # type: ignore[arg-type]
    slow = REFERENCES[cell](x_proj, recurrent, peephole).detach()
    assert fast.dtype == torch.float32
    torch.testing.assert_close(fast.double(), slow, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_kernel_rejects_bad_shapes(cell: str) -> None:
    x_proj, recurrent, peephole = make_inputs(cell, batch=2, steps=3, size=4)
    with pytest.raises(UsageError, match="weight_recurrent"):
        KERNELS[cell](x_proj, recurrent[:, :-1], peephole)
    with pytest.raises(UsageError, match="x_proj"):
        KERNELS[cell](x_proj[0], recurrent, peephole)

"""The compiled loops: register-blocked sizes, float32 accuracy, NaN/inf propagation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from rnnbench.engine import KERNELS
from tests.engine.reference import REFERENCES
from tests.engine.test_kernels import grads_of, make_inputs


@pytest.mark.parametrize("size", [36, 32, 16])
def test_register_blocked_sizes_match_reference(size: int, backend: str) -> None:
    """H = 36 (the paper's LSTM), 32 and 16 take the fixed-width matmul; outputs and gradients."""
    x_proj, recurrent, peephole = make_inputs("lstm", batch=5, steps=6, size=size, scale=0.3)
    inputs = [x_proj, recurrent, peephole]
    fast = KERNELS["lstm"](x_proj, recurrent, peephole)
    slow = REFERENCES["lstm"](x_proj, recurrent, peephole)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    upstream = torch.randn(5, 6, size, dtype=torch.float64)
    for got, want in zip(
        grads_of(fast, inputs, upstream), grads_of(slow, inputs, upstream), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("size", [36, 9])
def test_float32_inline_exp_close(size: int, backend: str) -> None:
    """float32 uses an inlined exp polynomial on the compiled path: close to float64 libm."""
    x_proj, recurrent, peephole = make_inputs("lstm", batch=16, steps=40, size=size, scale=0.3)
    x_proj = x_proj.detach() * 20.0  # pre-activations over +-20: the gates saturate too
    args = [tensor.detach().float() for tensor in (x_proj, recurrent, peephole)]
    with torch.inference_mode():
        fast = KERNELS["lstm"](*args)
    slow = REFERENCES["lstm"](x_proj, recurrent, peephole).detach()
    torch.testing.assert_close(fast.double(), slow, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("where", ["x_proj", "weight_recurrent", "weight_peephole"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_inputs_propagate(where: str, value: float, dtype: torch.dtype) -> None:
    """A NaN/inf in the inputs gives the same non-finite pattern as the pure-torch loop.

    The trainer detects divergence from NaN/inf losses: the compiled path must not hide them.
    """
    from rnnbench.engine.native import native

    if native() is None:
        pytest.skip("compiled kernels unavailable (no C++ compiler?)")
    x_proj, recurrent, peephole = make_inputs("lstm", batch=3, steps=5, size=36, scale=0.5)
    tensors = {
        "x_proj": x_proj.detach().to(dtype),
        "weight_recurrent": recurrent.detach().to(dtype),
        "weight_peephole": peephole.detach().to(dtype),
    }
    tensors[where][(0,) * tensors[where].dim()] = value
    args = (tensors["x_proj"], tensors["weight_recurrent"], tensors["weight_peephole"])
    compiled = KERNELS["lstm"](*args)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNBENCH_NATIVE", "0")
        plain = KERNELS["lstm"](*args)
    if math.isnan(value):  # NaN: every later output of the affected row is NaN
        assert torch.isnan(compiled[0, -1]).all()
    assert torch.equal(torch.isnan(compiled), torch.isnan(plain))
    assert not torch.isinf(compiled).any()  # h = o * tanh(c) is bounded unless NaN


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("cell", "size"), [("tanh", 100), ("gru", 46), ("gru", 20)])
def test_paper_size_matches_reference(
    cell: str, size: int, dtype: torch.dtype, backend: str
) -> None:
    """The paper's sizes (tanh 100, GRU 46) take the register-blocked compiled matmuls.

    GRU H = 46 pads 2H = 92 columns to 96 and H to 48 (float32): the padding must not leak.
    """
    x_proj, recurrent, _ = make_inputs(cell, batch=4, steps=6, size=size, scale=0.1)
    x_proj, recurrent = (
        tensor.detach().to(dtype).requires_grad_() for tensor in (x_proj, recurrent)
    )
    fast = KERNELS[cell](x_proj, recurrent, None)
    slow = REFERENCES[cell](x_proj, recurrent, None)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(fast, slow, rtol=tolerance, atol=tolerance)
    upstream = torch.randn(4, 6, size, dtype=dtype)
    for got, want in zip(
        grads_of(fast, [x_proj, recurrent], upstream),
        grads_of(slow, [x_proj, recurrent], upstream),
        strict=True,
    ):
        torch.testing.assert_close(got, want, rtol=tolerance * 10, atol=tolerance)


@pytest.mark.parametrize(("cell", "size"), [("tanh", 100), ("gru", 46)])
@pytest.mark.parametrize("where", ["x_proj", "weight_recurrent"])
def test_non_finite_propagates_without_peepholes(cell: str, size: int, where: str) -> None:
    """NaN in the tanh-RNN or GRU inputs reaches the last output on the compiled path."""
    from rnnbench.engine.native import native

    if native() is None:
        pytest.skip("compiled kernels unavailable (no C++ compiler?)")
    x_proj, recurrent, _ = make_inputs(cell, batch=2, steps=4, size=size, scale=0.1)
    tensors = {"x_proj": x_proj.detach().float(), "weight_recurrent": recurrent.detach().float()}
    tensors[where][(0,) * tensors[where].dim()] = float("nan")
    hidden = KERNELS[cell](tensors["x_proj"], tensors["weight_recurrent"], None)
    assert torch.isnan(hidden[0, -1]).all()
    if where == "x_proj":  # (a NaN weight times h_0 = 0 is NaN in one path, skipped in the other)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("RNNBENCH_NATIVE", "0")
            plain = KERNELS[cell](tensors["x_proj"], tensors["weight_recurrent"], None)
        assert torch.equal(torch.isnan(hidden), torch.isnan(plain))


def test_a_lock_left_by_a_killed_process_does_not_hang_the_next_load() -> None:
    """torch's build lock is a plain file: a worker killed mid-load leaves it behind. A fresh
    process must still load the compiled module (it holds an flock, so the file is stale)."""
    import subprocess
    import sys
    from pathlib import Path

    from torch.utils.cpp_extension import _get_build_directory

    from rnnbench.engine.native import current_build_name, native

    if native() is None:
        pytest.skip("compiled kernels unavailable (no C++ compiler?)")
    build_dir = Path(_get_build_directory(current_build_name(), verbose=False))
    (build_dir / "lock").touch()  # as a killed loader leaves it
    code = "from rnnbench.engine.native import native; assert native() is not None"
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert not (build_dir / "lock").exists()


BUILD_KEY = {
    "torch_version": "2.13.0+cpu",
    "torch_dir": "/work/a/.venv/lib/python3.11/site-packages/torch",
    "python": "py311",
    "compiler": "c++",
    "machine": "AMD EPYC flags: avx2 fma",
}


def test_each_torch_install_gets_its_own_build_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two venvs sharing one extension cache must not rebuild over each other: the name (and so
    the directory) differs with anything that changes the binary or ninja's compile line."""
    from rnnbench.engine.native import _build_directory, build_name, current_build_name

    name = build_name(**BUILD_KEY)
    assert name.startswith("rnnbench_engine_torch2_13_0_cpu_py311_") and name.isidentifier()
    assert build_name(**BUILD_KEY) == name
    changes = {
        "torch_version": "2.14.0+cpu",
        "torch_dir": "/work/b/.venv/lib/python3.11/site-packages/torch",
        "python": "py312",
        "compiler": "clang++",
        "machine": "Intel Xeon flags: avx512f",
    }
    others = [build_name(**{**BUILD_KEY, key: value}) for key, value in changes.items()]
    assert len({name, *others}) == 1 + len(changes)

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    first = _build_directory(name)
    second = _build_directory(build_name(**{**BUILD_KEY, "torch_version": "2.14.0+cpu"}))
    assert first != second and first.parent == second.parent == tmp_path
    assert current_build_name().startswith(
        "rnnbench_engine_torch" + torch.__version__.replace(".", "_").replace("+", "_")
    )

"""Engine test fixtures: one thread (the machine is shared), float64 reference cells."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(params=["torch", "native"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a kernel test on the pure-torch loops and on the compiled CPU loops."""
    name = str(request.param)
    monkeypatch.setenv("RNNBENCH_NATIVE", "1" if name == "native" else "0")
    if name == "native":
        from rnnbench.engine.native import native

        if native() is None:
            reason = "compiled kernels unavailable (no C++ compiler?)"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
    return name

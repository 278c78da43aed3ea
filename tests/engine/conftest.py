"""Engine test fixtures: float64 reference cells, both backends (threads: tests/conftest)."""

from __future__ import annotations

import os

import pytest


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

"""Sweep-test fixtures: the environment of a sweep (JSB from the mirror: tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sweep_env(jsb_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for sweeps (in-process and subprocess): the data dir, one thread, no colour."""
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(jsb_data_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield {**os.environ}

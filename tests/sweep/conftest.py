"""Sweep-test fixtures: one thread per process; JSB fetched from the mirror into a tmp data dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def jsb_data_dir(mirror_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rnnbench.data import fetch

    data_dir = tmp_path_factory.mktemp("data")
    fetch("jsb", data_dir=data_dir, mirror=mirror_dir)
    return data_dir


@pytest.fixture
def sweep_env(jsb_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for sweeps (in-process and subprocess): the data dir, one thread, no colour."""
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(jsb_data_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield {**os.environ}

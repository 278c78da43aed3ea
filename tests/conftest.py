"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _single_thread() -> Iterator[None]:
    """One torch thread in every test: the test machines have 2 shared cores, and at these
    sizes a second thread only adds contention."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def find_mirror() -> Path | None:
    """The offline dataset mirror: $RNNBENCH_MIRROR, else ../shared/datasets/mirror."""
    env = os.environ.get("RNNBENCH_MIRROR")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "datasets" / "mirror")
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.iterdir()):
            return candidate.resolve()
    return None


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The mirror folder. Absent: skip with a clear reason locally, fail under CI=true."""
    mirror = find_mirror()
    if mirror is None:
        reason = (
            "dataset mirror not found: set RNNBENCH_MIRROR "
            "or put ../shared/datasets/mirror beside the repo"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return mirror


BUILTIN_DATASETS = ("jsb", "nottingham", "musedata", "piano-midi")


@pytest.fixture(scope="session")
def jsb_data_dir(mirror_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JSB alone, fetched from the mirror into a data dir of its own (sweeps and plugin cells)."""
    from rnnbench.data import fetch

    data_dir = tmp_path_factory.mktemp("data")
    fetch("jsb", data_dir=data_dir, mirror=mirror_dir)
    return data_dir


@pytest.fixture(scope="session")
def data_dir_all(mirror_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding all four built-in datasets, fetched once per session from the mirror.

    Use it as `rnnbench.data.load("jsb", data_dir=data_dir_all)` (or `--data-dir` on the CLI).
    Treat it as read-only: it is shared by every test of the session.
    """
    from rnnbench.data import fetch

    data_dir = tmp_path_factory.mktemp("data-all")
    for name in BUILTIN_DATASETS:
        fetch(name, data_dir=data_dir, mirror=mirror_dir, offline=True)
    return data_dir

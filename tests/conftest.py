"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_mirror() -> Path | None:
    """The offline dataset mirror: $RNNBENCH_MIRROR, else ../shared/datasets/mirror beside the repo."""
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
        reason = "dataset mirror not found: set RNNBENCH_MIRROR or put ../shared/datasets/mirror beside the repo"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return mirror

"""The core contract others build on: load() from the session data dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnbench.data import SPLITS, builtin_specs, load


@pytest.mark.mirror
@pytest.mark.parametrize("name", list(builtin_specs()))
def test_load_gives_registry_sizes(data_dir_all: Path, name: str) -> None:
    dataset = load(name, data_dir=data_dir_all)
    spec = builtin_specs()[name]
    assert dataset.name == name
    assert dataset.digest == spec.digest
    for split in SPLITS:
        rolls = dataset.split(split)
        assert len(rolls) == spec.splits[split].sequences
        assert sum(len(roll) for roll in rolls) == spec.splits[split].frames
        assert all(roll.dtype == np.uint8 and roll.shape[1] == 88 for roll in rolls)
    assert dataset.train is dataset.splits["train"]

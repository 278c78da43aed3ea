"""Trainer test fixtures: small synthetic piano-rolls, a tiny config (threads: tests/conftest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rnnbench.config import Config, parse_config


def make_rolls(seed: int, count: int, low: int = 2, high: int = 25) -> list[np.ndarray]:
    """Random (T, 88) uint8 piano-rolls of varied lengths (synthetic, for fast unit tests)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(low, high, size=count)
    return [(rng.random((int(length), 88)) < 0.1).astype(np.uint8) for length in lengths]


@pytest.fixture
def piano_rolls() -> Callable[..., list[np.ndarray]]:
    """make_rolls(seed, count, low=2, high=25): random piano-rolls."""
    return make_rolls


@pytest.fixture
def synthetic_splits() -> dict[str, list[np.ndarray]]:
    return {"train": make_rolls(0, 20), "valid": make_rolls(1, 6), "test": make_rolls(2, 6)}


@pytest.fixture
def tiny_config() -> Callable[..., Config]:
    """make_config(**sections): a small GRU config with section updates."""
    return make_config


def make_config(**sections: dict[str, Any]) -> Config:
    """A small GRU config; `sections` update the raw sections, e.g. optim={"lr": 0.1}."""
    raw: dict[str, Any] = {
        "seed": 3,
        "device": "cpu",
        "data": {"name": "jsb"},
        "model": {"cell": "gru", "hidden_size": 8},
        "optim": {"lr": 0.01},
        "train": {"batch_size": 4, "max_epochs": 3, "patience": 5, "eval_batch_size": 5},
    }
    for name, values in sections.items():
        if isinstance(values, dict):
            raw[name] = {**raw.get(name, {}), **values}
        else:
            raw[name] = values
    return parse_config(raw, "tiny")

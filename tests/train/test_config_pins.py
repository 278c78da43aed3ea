"""Config hashes are the trial ids of committed runs: pinned here, so that no change to the schema,
its defaults or the config files moves them (computed before the paper configs were minimised)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rnnbench.config import Config, config_hash, load_config
from rnnbench.sweep import materialize, reproduce_spec

REPO = Path(__file__).resolve().parents[2]

PINNED = {
    "configs/paper/jsb-gru.yaml": "669c5f4fbac2",
    "configs/paper/jsb-lstm.yaml": "3f2b340799a3",
    "configs/paper/jsb-tanh.yaml": "e9f4a0b9c22c",
    "configs/paper/musedata-gru.yaml": "49f108c111eb",
    "configs/paper/musedata-lstm.yaml": "4807be64a9f4",
    "configs/paper/musedata-tanh.yaml": "c89e9d2a2d9d",
    "configs/paper/nottingham-gru.yaml": "bf4a880c9a1d",
    "configs/paper/nottingham-lstm.yaml": "8c61a188734d",
    "configs/paper/nottingham-tanh.yaml": "d94e02ff698d",
    "configs/paper/piano-midi-gru.yaml": "859050f09736",
    "configs/paper/piano-midi-lstm.yaml": "40ad9629fa25",
    "configs/paper/piano-midi-tanh.yaml": "0aa4bfda0d64",
    "configs/ci/jsb-gru.yaml": "1af00cacfa05",
    "configs/ci/jsb-lstm.yaml": "ecf772016dd9",
    "configs/ci/jsb-tanh.yaml": "f275ce388009",
    "configs/smoke.yaml": "7835ad3b1ea5",
}


@pytest.mark.parametrize("path", sorted(PINNED))
def test_config_hashes_are_pinned(path: str) -> None:
    assert config_hash(load_config(REPO / path)) == PINNED[path]


def test_the_paper_grid_is_the_committed_search() -> None:
    """`rnnbench reproduce` materializes exactly the 120 search trials of results/paper."""
    committed = json.loads((REPO / "results" / "paper" / "trials.json").read_text())["trials"]
    search = {trial["trial_id"] for trial in committed if trial["seed"] == 0}
    assert {trial.trial_id for trial in materialize(reproduce_spec(None, None))} == search


@pytest.mark.parametrize(
    ("arguments", "digest"),
    [
        ({"quick": True}, "5d27c4d6cf9f373e"),
        ({"overrides": ("train.batch_size=1",)}, "d55b6a3aff03b7a6"),
        (
            {"datasets": ["jsb"], "cells": ["gru", "lstm"], "trials": 3, "seeds": 2,
             "variant": "fused"},
            "7af88ee3c9d0bb78",
        ),
    ],
)  # fmt: skip
def test_reproduce_trial_ids_are_pinned(arguments: dict[str, object], digest: str) -> None:
    datasets = arguments.pop("datasets", None)
    cells = arguments.pop("cells", None)
    spec = reproduce_spec(datasets, cells, **arguments)  # type: ignore[arg-type]
    ids = ",".join(trial.trial_id for trial in materialize(spec))
    assert hashlib.sha256(ids.encode()).hexdigest()[:16] == digest


@pytest.mark.parametrize("listing", ["paper", "paper-batch1"])
def test_committed_trial_configs_still_hash_to_their_ids(listing: str) -> None:
    """Every committed trial's stored config validates today and hashes to its run id."""
    committed = json.loads((REPO / "results" / listing / "trials.json").read_text())["trials"]
    for trial in committed:
        assert config_hash(Config.model_validate(trial["config"])) == trial["trial_id"]

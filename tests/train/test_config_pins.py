"""Config hashes are the trial ids of committed runs: pinned here, so that no change to the schema,
its defaults or the config files moves them (computed before the paper configs were minimised; the
paper configs' pins moved once, on purpose, when the protocol's batch size became the paper
code's 1: they are now the hashes of the results/paper-batch1 protocol at lr 0.001)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rnnbench.config import Config, config_hash, load_config
from rnnbench.sweep import materialize, reproduce_spec

REPO = Path(__file__).resolve().parents[2]

PINNED = {
    "configs/paper/jsb-gru.yaml": "523d70ec780f",
    "configs/paper/jsb-lstm.yaml": "3829dae3a2bd",
    "configs/paper/jsb-tanh.yaml": "39021c5cd6a0",
    "configs/paper/musedata-gru.yaml": "ea3b29b6a192",
    "configs/paper/musedata-lstm.yaml": "124aa87af60d",
    "configs/paper/musedata-tanh.yaml": "a4ca60d56a78",
    "configs/paper/nottingham-gru.yaml": "109a420ab4b9",
    "configs/paper/nottingham-lstm.yaml": "6ffb9bf98414",
    "configs/paper/nottingham-tanh.yaml": "28e35350d814",
    "configs/paper/piano-midi-gru.yaml": "e6bffb928fc5",
    "configs/paper/piano-midi-lstm.yaml": "574536c7e244",
    "configs/paper/piano-midi-tanh.yaml": "9cce87e00b25",
    "configs/ci/jsb-gru.yaml": "1af00cacfa05",
    "configs/ci/jsb-lstm.yaml": "ecf772016dd9",
    "configs/ci/jsb-tanh.yaml": "f275ce388009",
    "configs/smoke.yaml": "7835ad3b1ea5",
}


@pytest.mark.parametrize("path", sorted(PINNED))
def test_config_hashes_are_pinned(path: str) -> None:
    assert config_hash(load_config(REPO / path)) == PINNED[path]


def _search_ids(listing: str) -> dict[str, set[str]]:
    """dataset -> the ids of the seed-0 search trials committed under results/<listing>."""
    committed = json.loads((REPO / "results" / listing / "trials.json").read_text())["trials"]
    ids: dict[str, set[str]] = {}
    for trial in committed:
        if trial["lr_index"] is not None and trial["seed"] == 0:
            ids.setdefault(trial["dataset"], set()).add(trial["trial_id"])
    return ids


def test_the_batch8_grid_is_the_committed_batch8_search() -> None:
    """`reproduce --set train.batch_size=8` materializes the 120 search trials of results/paper."""
    spec = reproduce_spec(None, None, overrides=("train.batch_size=8",))
    committed = set().union(*_search_ids("paper").values())
    assert {trial.trial_id for trial in materialize(spec)} == committed


def test_the_default_grid_is_the_committed_batch1_search() -> None:
    """`rnnbench reproduce` (the headline protocol) materializes, for every dataset it has
    reached, exactly the search trials of results/paper-batch1."""
    committed = _search_ids("paper-batch1")
    for dataset, ids in committed.items():
        spec = reproduce_spec([dataset], None)
        assert {trial.trial_id for trial in materialize(spec)} == ids, dataset


@pytest.mark.parametrize(
    ("arguments", "digest"),
    [
        ({"overrides": ("train.batch_size=1",)}, "d55b6a3aff03b7a6"),
        (
            {"datasets": ["jsb"], "cells": ["gru", "lstm"], "trials": 3, "seeds": 2,
             "variant": "fused", "overrides": ("train.batch_size=8",)},
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

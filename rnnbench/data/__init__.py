"""Datasets: the registry, verified download (`fetch`), safe decoders, the cache and `load`.

from rnnbench.data import load
dataset = load("jsb")            # after `rnnbench data download jsb`
dataset.train[0].shape           # (T, 88) uint8; column j = MIDI note j + 21
"""

from __future__ import annotations

from rnnbench.data.dataset import HIGHEST_NOTE, LOWEST_NOTE, NUM_NOTES, Dataset, PianoRoll
from rnnbench.data.download import FetchEvent, fetch, fetch_missing
from rnnbench.data.importer import import_midi
from rnnbench.data.midi import roll_to_midi
from rnnbench.data.registry import SPLITS, DatasetSpec, Source, builtin_specs
from rnnbench.data.store import dataset_names, load, resolve, resolve_data_dir

__all__ = [
    "HIGHEST_NOTE",
    "LOWEST_NOTE",
    "NUM_NOTES",
    "SPLITS",
    "Dataset",
    "DatasetSpec",
    "FetchEvent",
    "PianoRoll",
    "Source",
    "builtin_specs",
    "dataset_names",
    "fetch",
    "fetch_missing",
    "import_midi",
    "load",
    "resolve",
    "resolve_data_dir",
    "roll_to_midi",
]

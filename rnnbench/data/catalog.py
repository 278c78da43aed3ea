"""What the data dir holds, for `data list` and `data verify`."""

from __future__ import annotations

import os
from typing import Any

from rnnbench.data.registry import SPLITS, builtin_specs
from rnnbench.data.store import (
    check_cache,
    dataset_names,
    imported_datasets,
    load,
    resolve,
    resolve_data_dir,
)
from rnnbench.errors import DataError

DataDir = str | os.PathLike[str] | None


def _is_valid_cache(name: str, data_dir: DataDir) -> bool:
    """Cached and passing the same checks as `load` (a damaged cache is not "cached")."""
    try:
        check_cache(name, data_dir)
    except DataError:
        return False
    return True


def expected_sizes(name: str, data_dir: DataDir) -> dict[str, dict[str, int]]:
    """Sequences and frames per split, from the package registry or imported.json."""
    entry = resolve(name, data_dir)
    if entry.spec is not None:
        return {split: entry.spec.splits[split].model_dump() for split in SPLITS}
    record = imported_datasets(entry.data_dir)[entry.name]
    return {
        split: {"sequences": record["sequences"][split], "frames": record["frames"][split]}
        for split in SPLITS
    }


def catalog(data_dir: DataDir = None) -> list[dict[str, Any]]:
    """One row per known dataset: built-ins in registry order, then imported ones by name."""
    directory = resolve_data_dir(data_dir)
    rows: list[dict[str, Any]] = []
    for name, spec in builtin_specs().items():
        rows.append(
            {"name": name, "title": spec.title, "kind": "builtin", "aliases": list(spec.aliases)}
        )
    for name in sorted(imported_datasets(directory)):
        rows.append({"name": name, "title": name, "kind": "imported", "aliases": []})
    for row in rows:
        row["splits"] = expected_sizes(row["name"], directory)
        row["cached"] = _is_valid_cache(row["name"], directory)
    return rows


def cached_names(data_dir: DataDir = None) -> list[str]:
    """Datasets with a cache file in the data dir, intact or not (what `verify` checks)."""
    return [name for name in dataset_names(data_dir) if resolve(name, data_dir).is_cached]


def verify(name: str, data_dir: DataDir = None) -> str | None:
    """None if the cached dataset is intact and matches its registry entry; else the problem."""
    try:
        dataset = load(name, data_dir)
    except DataError as exc:
        return str(exc)
    expected = expected_sizes(name, data_dir)
    for split in SPLITS:
        found = {"sequences": len(dataset.split(split)), "frames": dataset.frames(split)}
        if found != expected[split]:
            return f"split '{split}' has {found}, expected {expected[split]}"
    return None

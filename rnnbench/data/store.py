"""The data directory: where caches live, the local registry of imported datasets, and `load`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnbench.data.cache import cache_path, read_cache, read_packed
from rnnbench.data.dataset import Dataset
from rnnbench.data.registry import SPLITS, DatasetSpec, builtin_name, builtin_spec, builtin_specs
from rnnbench.errors import DataError, UnknownNameError, UsageError
from rnnbench.io import atomic_write_json

DATA_DIR_ENV = "RNNBENCH_DATA_DIR"
IMPORTED_FILE = "imported.json"  # the local registry of datasets made by `data import-midi`
IMPORTED_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """`data_dir`, else $RNNBENCH_DATA_DIR, else ./data; a file there is a UsageError (a data dir
    that is a file would otherwise read as one where nothing is cached)."""
    if data_dir is not None:
        path = Path(data_dir)
    else:
        env = os.environ.get(DATA_DIR_ENV)
        path = Path(env) if env else Path("data")
    if path.exists() and not path.is_dir():
        raise UsageError(f"data dir {path}: is a file, expected a directory")
    return path


@dataclass(frozen=True)
class Entry:
    """A dataset name resolved: built-in (with its registry spec) or imported (spec is None)."""

    name: str
    spec: DatasetSpec | None
    data_dir: Path

    @property
    def cache(self) -> Path:
        return cache_path(self.data_dir, self.name)

    @property
    def is_cached(self) -> bool:
        return self.cache.is_file()


def imported_datasets(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The local registry: name -> {source, steps_per_beat, digest, sequences, frames, ...}.

    Every record is checked here, so callers may index it; a bad one is a DataError naming the
    file and the entry.
    """
    path = data_dir / IMPORTED_FILE
    if not path.is_file():
        return {}
    try:
        raw: Any = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise DataError(
            f"{path}: unreadable local dataset registry ({exc.strerror or exc})"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: unreadable local dataset registry (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: unreadable local dataset registry ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datasets"), dict):
        raise DataError(f"{path}: invalid local dataset registry (no 'datasets' mapping)")
    for name, record in raw["datasets"].items():
        problem = _record_problem(name, record)
        if problem:
            raise DataError(f"{path}: invalid entry '{name}' in local dataset registry ({problem})")
    return dict(raw["datasets"])


def _record_problem(name: str, record: Any) -> str | None:
    """What is wrong with one imported.json record, or None."""
    if not IMPORTED_NAME.match(name) or builtin_name(name):
        return "not a valid imported dataset name"
    if not isinstance(record, dict):
        return f"expected a mapping, got {type(record).__name__}"
    if not isinstance(record.get("digest"), str) or not record["digest"]:
        return "'digest' missing or not a string"
    spb = record.get("steps_per_beat", 2)
    if not _is_count(spb) or spb < 1:
        return "'steps_per_beat' is not a positive integer"
    for field in ("sequences", "frames"):
        sizes = record.get(field)
        if not isinstance(sizes, dict) or not all(_is_count(sizes.get(s)) for s in SPLITS):
            return f"'{field}' must map {', '.join(SPLITS)} to counts"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def register_imported(data_dir: Path, name: str, record: dict[str, Any]) -> None:
    entries = imported_datasets(data_dir)
    entries[name] = record
    _write_imported(data_dir, entries)


def restore_imported(data_dir: Path, name: str, record: dict[str, Any] | None) -> None:
    """Put back `name`'s previous record (None: remove it), undoing `register_imported`."""
    entries = imported_datasets(data_dir)
    if record is None:
        entries.pop(name, None)
    else:
        entries[name] = record
    _write_imported(data_dir, entries)


def _write_imported(data_dir: Path, entries: dict[str, Any]) -> None:
    path = data_dir / IMPORTED_FILE
    atomic_write_json(path, {"datasets": dict(sorted(entries.items()))})
    path.chmod(0o644)  # mkstemp creates 0600


def check_import_name(name: str) -> str:
    """A valid, non-clashing name for an imported dataset (lower-case letters, digits, . _ -)."""
    if builtin_name(name):
        raise UsageError(f"dataset name '{name}' is taken by the built-in '{builtin_name(name)}'")
    if not IMPORTED_NAME.match(name):
        raise UsageError(
            f"invalid dataset name '{name}': use lower-case letters, digits, '.', '_', '-'"
        )
    return name


def dataset_names(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Every name `load` accepts in this data dir: the built-ins, then imported datasets."""
    return [*builtin_specs(), *sorted(imported_datasets(resolve_data_dir(data_dir)))]


def resolve(name: str, data_dir: str | os.PathLike[str] | None = None) -> Entry:
    """Resolve a built-in name or alias, or an imported dataset; else UnknownNameError."""
    directory = resolve_data_dir(data_dir)
    spec = builtin_spec(name)
    if spec is not None:
        return Entry(spec.name, spec, directory)
    imported = imported_datasets(directory)
    if name in imported:
        return Entry(name, None, directory)
    raise UnknownNameError("dataset", name, [*builtin_specs(), *imported])


def load(name: str, data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """The dataset `name` from its cache in the data dir (download it first with `fetch`)."""
    entry = _cached_entry(name, data_dir)
    with _remedy_on_error(entry):
        dataset = read_cache(entry.cache)
    _check_pinned(entry, dataset.digest)
    return dataset


def check_cache(name: str, data_dir: str | os.PathLike[str] | None = None) -> None:
    """Raise DataError unless `name`'s cache is present, intact and has the pinned digest.

    The same checks as `load` (archive, arrays, content digest) without unpacking the frames.
    """
    entry = _cached_entry(name, data_dir)
    with _remedy_on_error(entry):
        meta, _ = read_packed(entry.cache)
    _check_pinned(entry, meta["digest"])


def _cached_entry(name: str, data_dir: str | os.PathLike[str] | None) -> Entry:
    entry = resolve(name, data_dir)
    if not entry.is_cached:
        raise DataError(f"dataset '{entry.name}' is not in {entry.data_dir}: {_remedy(entry)}")
    return entry


def _remedy(entry: Entry) -> str:
    """What rebuilds `entry`'s cache: a download for built-ins, a re-import for imported MIDI."""
    if entry.spec is not None:
        return f"run `rnnbench data download {entry.name}`"
    return f"import it again with `rnnbench data import-midi ... --name {entry.name} --force`"


@contextmanager
def _remedy_on_error(entry: Entry) -> Iterator[None]:
    """A DataError from reading `entry`'s cache, with the remedy that fits the dataset appended."""
    try:
        yield
    except DataError as exc:
        raise DataError(f"{exc}; {_remedy(entry)}") from None


def _check_pinned(entry: Entry, digest: str) -> None:
    if digest != expected_digest(entry):
        raise DataError(
            f"{entry.cache}: content differs from its registry digest; {_remedy(entry)}"
        )


def expected_digest(entry: Entry) -> str | None:
    """The pinned digest: the package registry's for built-ins, imported.json's for imports."""
    if entry.spec is not None:
        return entry.spec.digest
    record = imported_datasets(entry.data_dir).get(entry.name)
    return str(record["digest"]) if record else None

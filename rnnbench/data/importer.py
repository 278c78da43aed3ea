"""`import_midi`: a folder or zip of MIDI files in train/valid/test subfolders becomes a dataset.

The result is cached like a built-in dataset and recorded in the data dir's local registry
(imported.json), so `load(name)` and every command that takes a dataset name accept it.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rnnbench.data.cache import cache_path, write_cache
from rnnbench.data.dataset import Dataset, PianoRoll
from rnnbench.data.digest import digest_splits
from rnnbench.data.midi import midi_to_roll, read_midi
from rnnbench.data.registry import SPLITS
from rnnbench.data.store import (
    check_import_name,
    imported_datasets,
    register_imported,
    resolve_data_dir,
)
from rnnbench.errors import DataError, UsageError

MIDI_SUFFIXES = (".mid", ".midi")
MAX_MIDI_BYTES = 64 << 20


@dataclass(frozen=True)
class Skipped:
    file: str
    reason: str


@dataclass
class ImportReport:
    name: str
    cache: Path
    digest: str = ""
    sequences: dict[str, int] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    dropped_notes: int = 0
    skipped: list[Skipped] = field(default_factory=list)


MidiFile = tuple[str, str, Callable[[], bytes]]  # (split, label, read bytes)


def _split_of(parts: tuple[str, ...]) -> str | None:
    parent = parts[-2].lower() if len(parts) > 1 else ""
    is_midi = parts[-1].lower().endswith(MIDI_SUFFIXES)
    return parent if is_midi and parent in SPLITS else None


def _folder_files(root: Path) -> list[MidiFile]:
    found: list[MidiFile] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        split = _split_of(relative.parts)
        if split:
            found.append((split, relative.as_posix(), path.read_bytes))
    return found


def _zip_files(archive: zipfile.ZipFile) -> list[MidiFile]:
    found: list[MidiFile] = []
    for info in sorted(archive.infolist(), key=lambda item: item.filename):
        split = None if info.is_dir() else _split_of(PurePosixPath(info.filename).parts)
        if split:
            found.append((split, info.filename, _zip_reader(archive, info)))
    return found


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        if info.file_size > MAX_MIDI_BYTES:
            raise DataError(f"{info.filename}: larger than {MAX_MIDI_BYTES >> 20} MiB")
        return archive.read(info)

    return read


@dataclass
class _Collected:
    splits: dict[str, list[PianoRoll]]
    dropped: int
    skipped: list[Skipped]


def _convert(files: list[MidiFile], steps_per_beat: int, strict: bool) -> _Collected:
    collected = _Collected({split: [] for split in SPLITS}, 0, [])
    for split, label, read in files:
        try:
            roll, dropped = midi_to_roll(read_midi(read(), label), steps_per_beat, label)
        except (DataError, OSError, zipfile.BadZipFile) as exc:
            if strict:
                raise DataError(f"{exc} (--strict: import stopped)") from None
            collected.skipped.append(Skipped(label, str(exc)))
            continue
        collected.splits[split].append(roll)
        collected.dropped += dropped
    return collected


@contextlib.contextmanager
def _midi_files(path: Path) -> Iterator[list[MidiFile]]:
    """The MIDI files under train/, valid/, test/ of a folder or zip (zip kept open while used)."""
    if path.is_dir():
        yield _folder_files(path)
        return
    if not path.is_file():
        raise UsageError(f"{path}: no such folder or zip file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{path}: neither a folder nor a readable zip archive ({exc})") from None
    with archive:
        yield _zip_files(archive)


def import_midi(
    path: str | os.PathLike[str],
    name: str,
    *,
    steps_per_beat: int = 2,
    data_dir: str | os.PathLike[str] | None = None,
    strict: bool = False,
) -> ImportReport:
    """Quantize the MIDI files under train/, valid/, test/ of `path`; cache them as `name`."""
    check_import_name(name)
    if steps_per_beat < 1:
        raise UsageError(f"--steps-per-beat must be at least 1, got {steps_per_beat}")
    source = Path(path)
    directory = resolve_data_dir(data_dir)
    imported_datasets(directory)  # a damaged local registry fails now, before any file is written
    with _midi_files(source) as files:
        present = {split for split, _, _ in files}
        missing = [split for split in SPLITS if split not in present]
        if missing:
            raise UsageError(f"{source}: no MIDI files under {', '.join(f'{m}/' for m in missing)}")
        collected = _convert(files, steps_per_beat, strict)
    empty = [split for split in SPLITS if not collected.splits[split]]
    if empty:
        raise DataError(f"{source}: no readable MIDI file left in split(s) {', '.join(empty)}")
    dataset = Dataset(name, collected.splits, digest_splits(collected.splits), steps_per_beat)
    report = ImportReport(name, cache_path(directory, name), dataset.digest)
    report.sequences = {split: len(dataset.split(split)) for split in SPLITS}
    report.frames = {split: dataset.frames(split) for split in SPLITS}
    report.dropped_notes, report.skipped = collected.dropped, collected.skipped
    write_cache(report.cache, dataset, {"source": str(source.resolve())})
    register_imported(directory, name, _record(report, source, steps_per_beat))
    return report


def _record(report: ImportReport, source: Path, steps_per_beat: int) -> dict[str, object]:
    return {
        "source": str(source.resolve()),
        "steps_per_beat": steps_per_beat,
        "digest": report.digest,
        "sequences": report.sequences,
        "frames": report.frames,
        "dropped_notes": report.dropped_notes,
        "skipped": [skipped.file for skipped in report.skipped],
    }

"""`import_midi`: a folder or zip of MIDI files in train/valid/test subfolders becomes a dataset.

The result is cached like a built-in dataset and recorded in the data dir's local registry
(imported.json), so `load(name)` and every command that takes a dataset name accept it.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import zipfile
import zlib
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
    restore_imported,
)
from rnnbench.errors import DataError, OutputError, UsageError

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


# What zipfile raises on a damaged, encrypted or unsupported entry (beyond BadZipFile).
_ZIP_ENTRY_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,  # encrypted: password required
    NotImplementedError,  # unknown compression method
    EOFError,
    OSError,
    ValueError,
)


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        if info.file_size > MAX_MIDI_BYTES:
            raise DataError(f"{info.filename}: larger than {MAX_MIDI_BYTES >> 20} MiB")
        try:
            return archive.read(info)
        except _ZIP_ENTRY_ERRORS as exc:
            reason = " ".join(_zip_reason(exc, info).split())
            raise DataError(
                f"{archive.filename}: entry '{info.filename}' is unreadable ({reason})"
            ) from None

    return read


def _zip_reason(exc: BaseException, info: zipfile.ZipInfo) -> str:
    if isinstance(exc, RuntimeError) and info.flag_bits & 0x1:
        return "encrypted, a password is required"
    if isinstance(exc, NotImplementedError):
        return f"compression method {info.compress_type} is not supported"
    if isinstance(exc, zlib.error | lzma.LZMAError | EOFError):
        return f"damaged compressed data: {exc}"
    if isinstance(exc, zipfile.BadZipFile):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


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
    force: bool = False,
) -> ImportReport:
    """Quantize the MIDI files under train/, valid/, test/ of `path`; cache them as `name`.

    An existing dataset `name` is replaced only if `force`; its cache file and its imported.json
    record change together (a failed import leaves the old dataset intact).
    """
    check_import_name(name)
    if steps_per_beat < 1:
        raise UsageError(f"--steps-per-beat must be at least 1, got {steps_per_beat}")
    source = Path(path)
    directory = resolve_data_dir(data_dir)
    # a damaged local registry fails now, before any file is written
    existing = name in imported_datasets(directory) or cache_path(directory, name).exists()
    if existing and not force:
        raise OutputError(
            f"dataset '{name}' already exists ({cache_path(directory, name)}); "
            "use --force to replace it"
        )
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
    _commit(directory, dataset, report, _record(report, source, steps_per_beat))
    return report


def _commit(
    directory: Path, dataset: Dataset, report: ImportReport, record: dict[str, object]
) -> None:
    """Cache file and registry record together: write the cache beside, register, rename.

    If registering fails the staged cache is removed; if the rename fails the old record is put
    back. Either way the previous dataset (if any) still loads and verifies.
    """
    staged = report.cache.with_name(f".{report.cache.name}.{os.getpid()}.new")
    previous = imported_datasets(directory).get(report.name)
    try:
        write_cache(staged, dataset, {"source": record["source"]})
        register_imported(directory, report.name, record)
    except BaseException:
        with contextlib.suppress(OSError):
            staged.unlink(missing_ok=True)
        raise
    try:
        staged.replace(report.cache)
    except OSError as exc:
        with contextlib.suppress(OSError, DataError, OutputError):
            staged.unlink(missing_ok=True)
            restore_imported(directory, report.name, previous)
        raise OutputError(f"{report.cache}: cannot write ({exc.strerror or exc})") from None


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

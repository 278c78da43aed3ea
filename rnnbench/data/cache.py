"""The compact cache file: one uncompressed .npz per dataset, read without pickle.

Arrays: `<split>_frames` (N, 11) uint8 (88 notes packed 8 a byte), `<split>_offsets` (n + 1,) int64
(sequence i is frames offsets[i]:offsets[i+1]), and `meta` a 0-d string holding JSON (format
version, name, digest, provenance). The digest is re-checked on every load: corrupt caches do not
load.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnbench.data.dataset import NUM_NOTES, Dataset, PianoRoll
from rnnbench.data.digest import digest_packed, pack_frames
from rnnbench.data.registry import SPLITS
from rnnbench.errors import DataError
from rnnbench.io import atomic_open

CACHE_FORMAT = 1
CACHE_SUFFIX = ".npz"


def cache_path(data_dir: Path, name: str) -> Path:
    return data_dir / f"{name}{CACHE_SUFFIX}"


def write_cache(path: Path, dataset: Dataset, provenance: Mapping[str, Any]) -> None:
    """Write `dataset` atomically to `path` (the old file, if any, stays until the rename)."""
    arrays: dict[str, Any] = {}
    for split in SPLITS:
        rolls = dataset.splits[split]
        arrays[f"{split}_frames"] = pack_frames(rolls)  # (N, 11)
        arrays[f"{split}_offsets"] = np.concatenate(
            [[0], np.cumsum([len(r) for r in rolls])]
        ).astype(np.int64)
    meta = {
        "format": CACHE_FORMAT,
        "name": dataset.name,
        "digest": dataset.digest,
        "steps_per_beat": dataset.steps_per_beat,
        **provenance,
    }
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)
    path.chmod(0o644)  # mkstemp creates 0600; a cache is ordinary shared data


def read_meta(path: Path) -> dict[str, Any]:
    """The cache's metadata only (cheap: does not read the frames)."""
    with _open_npz(path) as archive:
        return _meta(path, archive)


def read_packed(path: Path) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """Metadata and per-split (packed frames (N, 11), offsets (n + 1,)), integrity-checked.

    Everything `read_cache` checks (archive, arrays, content digest against the recorded one)
    without unpacking the frames: the cheap full check behind `download` and `data list`.
    """
    with _open_npz(path) as archive:
        meta = _meta(path, archive)
        packed = {split: _packed_split(path, archive, split) for split in SPLITS}
    digest = digest_packed(
        {split: (frames, np.diff(offsets)) for split, (frames, offsets) in packed.items()}
    )
    if digest != meta["digest"]:
        raise DataError(f"{path}: cache is corrupt (content digest mismatch)")
    return meta, packed


def read_cache(path: Path) -> Dataset:
    """Load and integrity-check a cache file."""
    meta, packed = read_packed(path)
    splits = {split: _unpack(frames, offsets) for split, (frames, offsets) in packed.items()}
    return Dataset(
        name=meta["name"],
        splits=splits,
        digest=meta["digest"],
        steps_per_beat=meta["steps_per_beat"],
        meta={key: str(value) for key, value in meta.items()},
    )


_ZIP_MAGIC = b"PK\x03\x04"  # every .npz np.savez writes starts with a zip local file header


def _open_npz(path: Path) -> Any:
    """The open archive; DataError naming `path` for anything but a readable .npz (never pickle).

    The zip signature is checked first, so numpy never gets to guess at other formats.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_ZIP_MAGIC))
    except OSError as exc:
        raise DataError(f"{path}: unreadable cache file ({exc.strerror or exc})") from None
    if not magic:
        raise DataError(f"{path}: unreadable cache file (empty)")
    if magic != _ZIP_MAGIC:
        raise DataError(f"{path}: unreadable cache file (not an .npz archive)")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: unreadable cache file (damaged archive: {_why(exc)})") from None


def _why(exc: BaseException) -> str:
    """A short reason in our words: zip and OS messages are kept, numpy's advice is not."""
    if isinstance(exc, zipfile.BadZipFile):
        return str(exc)
    if isinstance(exc, OSError):
        return str(exc.strerror or type(exc).__name__)
    if isinstance(exc, EOFError):
        return "ends early"
    return "invalid array data"


def _member(path: Path, archive: Any, key: str) -> Any:
    """One array of the archive; DataError naming `path` and `key` if absent or damaged."""
    try:
        value = archive[key]
    except KeyError:
        raise DataError(f"{path}: cache file has no '{key}' array") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cache file has a damaged '{key}' array ({_why(exc)})") from None
    if not isinstance(value, np.ndarray):
        raise DataError(f"{path}: cache file's '{key}' is not an array")
    return value


def _meta(path: Path, archive: Any) -> dict[str, Any]:
    raw = _member(path, archive, "meta")
    try:
        meta: Any = json.loads(str(raw)) if raw.ndim == 0 and raw.dtype.kind == "U" else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: cache file has no valid metadata")
    if meta.get("format") != CACHE_FORMAT:
        raise DataError(f"{path}: unsupported cache format")
    meta.setdefault("steps_per_beat", 2)
    for key, kind in (("name", str), ("digest", str), ("steps_per_beat", int)):
        if not isinstance(meta.get(key), kind) or isinstance(meta[key], bool):
            raise DataError(f"{path}: cache metadata field '{key}' is missing or invalid")
    if meta["steps_per_beat"] < 1:
        raise DataError(f"{path}: cache metadata field 'steps_per_beat' is missing or invalid")
    return meta


def _packed_split(path: Path, archive: Any, split: str) -> tuple[Any, Any]:
    frames = _member(path, archive, f"{split}_frames")
    offsets = _member(path, archive, f"{split}_offsets")
    bad_type = frames.dtype != np.uint8 or offsets.dtype.kind not in "iu"
    bad_shape = frames.ndim != 2 or frames.shape[1] != 11 or offsets.ndim != 1 or len(offsets) < 1
    if bad_type or bad_shape:
        raise DataError(f"{path}: cache file has inconsistent '{split}' arrays")
    if offsets[0] != 0 or offsets[-1] != len(frames) or np.any(np.diff(offsets) < 0):
        raise DataError(f"{path}: cache file has inconsistent '{split}' arrays")
    return frames, offsets


def _unpack(frames: Any, offsets: Any) -> list[PianoRoll]:
    rolls = np.unpackbits(frames, axis=1, count=NUM_NOTES)  # (N, 88)
    return list(np.split(rolls, offsets[1:-1], axis=0))  # n x (T, 88)

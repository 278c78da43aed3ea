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


def read_cache(path: Path) -> Dataset:
    """Load and integrity-check a cache file."""
    with _open_npz(path) as archive:
        meta = _meta(path, archive)
        packed = {split: _packed_split(path, archive, split) for split in SPLITS}
    digest = digest_packed(
        {split: (frames, np.diff(offsets)) for split, (frames, offsets) in packed.items()}
    )
    if digest != meta.get("digest"):
        raise DataError(f"{path}: cache is corrupt (content digest mismatch); download it again")
    splits = {split: _unpack(frames, offsets) for split, (frames, offsets) in packed.items()}
    return Dataset(
        name=str(meta["name"]),
        splits=splits,
        digest=digest,
        steps_per_beat=int(meta.get("steps_per_beat", 2)),
        meta={key: str(value) for key, value in meta.items()},
    )


def _open_npz(path: Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: unreadable cache file ({exc})") from exc


def _meta(path: Path, archive: Any) -> dict[str, Any]:
    try:
        meta: Any = json.loads(str(archive["meta"]))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cache file has no valid metadata") from exc
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        raise DataError(f"{path}: unsupported cache format; download the dataset again")
    return meta


def _packed_split(path: Path, archive: Any, split: str) -> tuple[Any, Any]:
    try:
        frames = archive[f"{split}_frames"]
        offsets = archive[f"{split}_offsets"]
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: cache file is missing or has a damaged '{split}' split") from exc
    bad_shape = frames.ndim != 2 or frames.shape[1] != 11 or offsets.ndim != 1 or len(offsets) < 1
    if bad_shape or offsets[0] != 0 or offsets[-1] != len(frames) or np.any(np.diff(offsets) < 0):
        raise DataError(f"{path}: cache file has inconsistent '{split}' arrays")
    return frames, offsets


def _unpack(frames: Any, offsets: Any) -> list[PianoRoll]:
    rolls = np.unpackbits(frames, axis=1, count=NUM_NOTES)  # (N, 88)
    return list(np.split(rolls, offsets[1:-1], axis=0))  # n x (T, 88)

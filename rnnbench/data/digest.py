"""The content digest of a dataset: format-independent, so a .mat and a pickle of the same
piano-rolls give the same value.

sha256 over, for each split in (train, valid, test): a header line `"<split> <n>\\n"`, the n
sequence lengths as little-endian int64, then all frames of the split packed 8 notes a byte
(np.packbits over the 88 columns, 11 bytes a frame). Split, sequence order, frame count and every
note are covered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from rnnbench.data.registry import SPLITS

DIGEST_PREFIX = "sha256:"
_HEADER = b"rnnbench-pianoroll-v1\n"


def pack_frames(sequences: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    """All frames of a split, 88 notes packed into 11 bytes each: (sum T, 11)."""
    if not sequences:
        return np.zeros((0, 11), dtype=np.uint8)
    frames = np.concatenate(sequences, axis=0)  # (sum T, 88)
    return np.packbits(frames, axis=1)  # (sum T, 11)


def digest_packed(packed: Mapping[str, tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]]) -> str:
    """Digest from per-split (packed frames (N, 11), sequence lengths (n,))."""
    hasher = hashlib.sha256(_HEADER)
    for split in SPLITS:
        frames, lengths = packed[split]
        hasher.update(f"{split} {len(lengths)}\n".encode())
        hasher.update(np.asarray(lengths, dtype="<i8").tobytes())
        hasher.update(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
    return DIGEST_PREFIX + hasher.hexdigest()


def digest_splits(splits: Mapping[str, Sequence[npt.NDArray[np.uint8]]]) -> str:
    """Digest of piano-rolls given as split -> list of (T, 88) 0/1 arrays."""
    packed = {
        split: (
            pack_frames(splits[split]),
            np.array([len(s) for s in splits[split]], dtype=np.int64),
        )
        for split in SPLITS
    }
    return digest_packed(packed)

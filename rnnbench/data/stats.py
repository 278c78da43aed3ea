"""Descriptive statistics of a dataset, for `rnnbench data info`."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnbench.data.dataset import LOWEST_NOTE, Dataset, PianoRoll
from rnnbench.data.registry import SPLITS


def split_stats(rolls: list[PianoRoll]) -> dict[str, Any]:
    """Sizes, sequence lengths, polyphony (notes sounding per frame) and note range of one split."""
    lengths = np.array([len(roll) for roll in rolls], dtype=np.int64)
    frames = np.concatenate(rolls, axis=0) if rolls else np.zeros((0, 88), np.uint8)  # (N, 88)
    polyphony = frames.sum(axis=1, dtype=np.int64)  # (N,)
    used = np.flatnonzero(frames.any(axis=0))
    return {
        "sequences": len(rolls),
        "frames": int(lengths.sum()),
        "length_min": int(lengths.min()) if len(lengths) else 0,
        "length_mean": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
        "length_max": int(lengths.max()) if len(lengths) else 0,
        "polyphony_mean": round(float(polyphony.mean()), 3) if len(polyphony) else 0.0,
        "polyphony_max": int(polyphony.max()) if len(polyphony) else 0,
        "silent_frames": int((polyphony == 0).sum()),
        "note_min": int(used[0] + LOWEST_NOTE) if len(used) else None,
        "note_max": int(used[-1] + LOWEST_NOTE) if len(used) else None,
    }


def dataset_stats(dataset: Dataset) -> dict[str, Any]:
    """The `data info --format json` document."""
    splits = {split: split_stats(dataset.split(split)) for split in SPLITS}
    lows = [s["note_min"] for s in splits.values() if s["note_min"] is not None]
    highs = [s["note_max"] for s in splits.values() if s["note_max"] is not None]
    return {
        "name": dataset.name,
        "digest": dataset.digest,
        "steps_per_beat": dataset.steps_per_beat,
        "note_range": [min(lows), max(highs)] if lows else None,
        "splits": splits,
        "source": dataset.meta.get("source"),
    }

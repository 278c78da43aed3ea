"""The in-memory dataset every other part of rnnbench consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rnnbench.data.registry import SPLITS
from rnnbench.errors import UnknownNameError

NUM_NOTES = 88
LOWEST_NOTE = 21  # MIDI A0: column j of a piano-roll is MIDI note j + 21
HIGHEST_NOTE = LOWEST_NOTE + NUM_NOTES - 1  # MIDI C8

PianoRoll = npt.NDArray[np.uint8]  # (T, 88), 0/1


@dataclass(frozen=True)
class Dataset:
    """Piano-roll splits: each sequence a (T, 88) uint8 0/1 array, column j = MIDI j+21."""

    name: str
    splits: dict[str, list[PianoRoll]]
    digest: str = ""
    steps_per_beat: int = 2
    meta: dict[str, str] = field(default_factory=dict)

    def split(self, name: str) -> list[PianoRoll]:
        if name not in self.splits:
            raise UnknownNameError("split", name, SPLITS)
        return self.splits[name]

    @property
    def train(self) -> list[PianoRoll]:
        return self.splits["train"]

    @property
    def valid(self) -> list[PianoRoll]:
        return self.splits["valid"]

    @property
    def test(self) -> list[PianoRoll]:
        return self.splits["test"]

    def lengths(self, split: str) -> npt.NDArray[np.int64]:
        """Sequence lengths (frames) of a split, in order."""
        return np.array([len(roll) for roll in self.split(split)], dtype=np.int64)

    def frames(self, split: str) -> int:
        return int(self.lengths(split).sum())

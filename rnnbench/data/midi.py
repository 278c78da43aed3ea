"""Piano-roll <-> MIDI with pretty_midi: export for listening, beat-synchronous import.

A roll's frame k covers beat-grid step k: `steps_per_beat` steps per beat (the published sets use 2,
eighth notes; JSB 1, quarter notes). Export writes a constant `tempo`, so a step lasts
60 / (tempo * steps_per_beat) seconds; import follows the file's own beats (pretty_midi's beat
tracker over its tempo map), so tempo changes do not stretch the roll.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rnnbench.data.dataset import HIGHEST_NOTE, LOWEST_NOTE, NUM_NOTES, PianoRoll
from rnnbench.errors import DataError

END_MARKER = "rnnbench:end"  # a text event at the roll's end keeps trailing silent frames on import


def roll_to_pretty_midi(
    roll: npt.ArrayLike,
    *,
    steps_per_beat: int = 2,
    tempo: float = 120.0,
    program: int = 0,
    velocity: int = 90,
) -> Any:
    """A pretty_midi.PrettyMIDI of a (T, 88) 0/1 roll; consecutive active frames make one note."""
    import pretty_midi

    frames = _as_roll(roll)  # (T, 88)
    step_seconds = 60.0 / (tempo * steps_per_beat)
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    instrument = pretty_midi.Instrument(program=program, name="rnnbench")
    silence = np.zeros((1, NUM_NOTES), dtype=np.int8)
    changes = np.diff(np.vstack([silence, frames.astype(np.int8), silence]), axis=0)  # (T+1, 88)
    onsets, offsets = np.argwhere(changes == 1), np.argwhere(changes == -1)  # (n, 2) rows (t, key)
    onsets = onsets[np.lexsort((onsets[:, 0], onsets[:, 1]))]  # by key, then time
    offsets = offsets[np.lexsort((offsets[:, 0], offsets[:, 1]))]
    for (start, key), (end, _) in zip(onsets, offsets, strict=True):
        instrument.notes.append(
            pretty_midi.Note(
                velocity=velocity,
                pitch=int(key) + LOWEST_NOTE,
                start=float(start) * step_seconds,
                end=float(end) * step_seconds,
            )
        )
    instrument.notes.sort(key=lambda note: (note.start, note.pitch))
    midi.instruments.append(instrument)
    midi.text_events.append(pretty_midi.Text(END_MARKER, len(frames) * step_seconds))
    return midi


def roll_to_midi(
    roll: npt.ArrayLike,
    path: str | os.PathLike[str],
    *,
    steps_per_beat: int = 2,
    tempo: float = 120.0,
    program: int = 0,
    velocity: int = 90,
) -> Path:
    """Write a (T, 88) 0/1 piano-roll as a MIDI file (atomically); returns the path.

    One frame lasts 60 / (tempo * steps_per_beat) s (default: eighth notes at 120 bpm, 0.25 s).
    """
    from rnnbench.io import atomic_open

    midi = roll_to_pretty_midi(
        roll, steps_per_beat=steps_per_beat, tempo=tempo, program=program, velocity=velocity
    )
    target = Path(path)
    with atomic_open(target, "wb") as handle:
        midi.write(handle)
    return target


def _as_roll(roll: npt.ArrayLike) -> PianoRoll:
    frames = np.asarray(roll)
    if frames.ndim != 2 or frames.shape[1] != NUM_NOTES:
        raise DataError(f"a piano-roll must have shape (T, {NUM_NOTES}), got {frames.shape}")
    return (frames > 0.5).astype(np.uint8)  # (T, 88); also accepts probabilities/booleans


def read_midi(data: bytes, label: str) -> Any:
    """Parse MIDI bytes with pretty_midi; DataError naming `label` when the file is corrupt."""
    import pretty_midi

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:  # mido/pretty_midi raise many types on corrupt input
        raise DataError(f"{label}: corrupt MIDI ({type(exc).__name__}: {exc})") from None


def step_grid(midi: Any, steps_per_beat: int, end_time: float) -> npt.NDArray[np.float64]:
    """Start times of the beat-synchronous steps, extended past `end_time`: (S,)."""
    beats = np.asarray(midi.get_beats(), dtype=np.float64)  # (B,)
    interval = float(np.diff(beats)[-1]) if len(beats) > 1 else 0.5
    if len(beats) == 0:
        beats = np.array([0.0])
    count = max(0, int(np.ceil((end_time - beats[-1]) / interval))) + 2
    beats = np.concatenate([beats, beats[-1] + interval * np.arange(1, count + 1)])  # (B',)
    fractions = np.arange(steps_per_beat) / steps_per_beat  # (spb,)
    grid = beats[:-1, None] + np.diff(beats)[:, None] * fractions[None, :]  # (B'-1, spb)
    return np.append(grid.reshape(-1), beats[-1])  # (S,)


def midi_to_roll(midi: Any, steps_per_beat: int, label: str = "MIDI") -> tuple[PianoRoll, int]:
    """Quantize a PrettyMIDI to a (T, 88) roll on its beat grid; also the count of dropped notes.

    Onsets and offsets snap to the nearest step; a note lasts at least one step. Drum tracks are
    ignored; notes outside MIDI 21..108 are dropped and counted.
    """
    notes = [note for inst in midi.instruments if not inst.is_drum for note in inst.notes]
    if not notes:
        raise DataError(f"{label}: no (non-drum) notes")
    end_time = float(midi.get_end_time())
    grid = step_grid(midi, steps_per_beat, end_time)
    steps = np.arange(len(grid), dtype=np.float64)

    def to_step(seconds: float) -> int:
        return round(float(np.interp(seconds, grid, steps)))

    length = max(1, to_step(end_time))
    keep = [n for n in notes if LOWEST_NOTE <= n.pitch <= HIGHEST_NOTE]
    spans = [(to_step(n.start), n.pitch - LOWEST_NOTE, n.end) for n in keep]
    spans_end = [(start, key, max(start + 1, to_step(end))) for start, key, end in spans]
    length = max([length, *(end for _, _, end in spans_end)])
    roll = np.zeros((length, NUM_NOTES), dtype=np.uint8)  # (T, 88)
    for start, key, end in spans_end:
        roll[start:end, key] = 1
    return roll, len(notes) - len(keep)

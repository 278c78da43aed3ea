"""MIDI: export/import round trip, beat-synchronous import of a set the test writes, bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from rnnbench.data import load
from rnnbench.data.importer import import_midi
from rnnbench.data.midi import midi_to_roll, read_midi, roll_to_midi
from rnnbench.errors import DataError, UnknownNameError, UsageError


def _random_roll(seed: int, frames: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    roll = (rng.random((frames, 88)) < 0.04).astype(np.uint8)  # (T, 88)
    roll[:, 39] = 1  # a note held through the whole roll
    roll[-3:] = 0  # trailing silence must survive the round trip
    return roll


@pytest.mark.parametrize(("steps_per_beat", "tempo"), [(1, 100.0), (2, 120.0), (4, 72.0)])
def test_roll_midi_round_trip(tmp_path: Path, steps_per_beat: int, tempo: float) -> None:
    roll = _random_roll(steps_per_beat, 40)
    path = roll_to_midi(roll, tmp_path / "roll.mid", steps_per_beat=steps_per_beat, tempo=tempo)
    midi = pretty_midi.PrettyMIDI(str(path))
    assert midi.get_tempo_changes()[1][0] == pytest.approx(tempo)
    back, dropped = midi_to_roll(midi, steps_per_beat)
    assert dropped == 0
    np.testing.assert_array_equal(back, roll)


def _write_song(path: Path, notes: list[tuple[int, float, float]], tempo: float = 100.0) -> None:
    """A MIDI file written directly with pretty_midi: (pitch, start beat, end beat) at `tempo`."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    piano = pretty_midi.Instrument(program=0)
    beat = 60.0 / tempo
    for pitch, start, end in notes:
        piano.notes.append(
            pretty_midi.Note(velocity=80, pitch=pitch, start=start * beat, end=end * beat)
        )
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=80, pitch=36, start=0.0, end=beat))
    midi.instruments += [piano, drums]
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))


SONGS = {
    "train/a.mid": [(60, 0, 1), (64, 0.5, 2), (67, 1, 2)],
    "train/b.midi": [(48, 0, 4), (10, 0, 1), (115, 1, 2)],  # two notes outside 21..108
    "valid/c.mid": [(72, 0, 0.5), (72, 1.5, 2)],
    "test/d.MID": [(21, 0, 1), (108, 1, 3)],
}
EXPECTED = {  # at 2 steps per beat: {file: [(key column, first frame, end frame)], frames}
    "train/a.mid": ([(39, 0, 2), (43, 1, 4), (46, 2, 4)], 4),
    "train/b.midi": ([(27, 0, 8)], 8),
    "valid/c.mid": ([(51, 0, 1), (51, 3, 4)], 4),
    "test/d.MID": ([(0, 0, 2), (87, 2, 6)], 6),
}


def _expected_roll(spans: list[tuple[int, int, int]], frames: int) -> np.ndarray:
    roll = np.zeros((frames, 88), dtype=np.uint8)  # (T, 88)
    for key, start, end in spans:
        roll[start:end, key] = 1
    return roll


@pytest.fixture
def midi_set(tmp_path: Path) -> Path:
    root = tmp_path / "songs"
    for relative, notes in SONGS.items():
        _write_song(root / relative, notes)
    (root / "test" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (root / "README.txt").write_text("not a split folder")
    return root


def test_import_quantizes_on_the_beat_grid(midi_set: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    report = import_midi(midi_set, "my-songs", steps_per_beat=2, data_dir=data_dir)
    assert report.sequences == {"train": 2, "valid": 1, "test": 1}
    assert report.dropped_notes == 2
    assert [s.file for s in report.skipped] == ["test/broken.mid"]
    assert "corrupt MIDI" in report.skipped[0].reason
    dataset = load("my-songs", data_dir)
    rolls = [*dataset.train, *dataset.valid, *dataset.test]
    for roll, (spans, frames) in zip(rolls, EXPECTED.values(), strict=True):
        np.testing.assert_array_equal(roll, _expected_roll(spans, frames))
    assert dataset.steps_per_beat == 2


def test_import_from_zip_equals_import_from_folder(midi_set: Path, tmp_path: Path) -> None:
    archive = tmp_path / "songs.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        for path in sorted(midi_set.rglob("*")):
            writer.write(path, Path("songs") / path.relative_to(midi_set))  # one top folder
    from_folder = import_midi(midi_set, "folder", data_dir=tmp_path / "data")
    from_zip = import_midi(archive, "zipped", data_dir=tmp_path / "data")
    assert from_zip.digest == from_folder.digest


def test_strict_import_fails_naming_the_corrupt_file(midi_set: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"test/broken\.mid: corrupt MIDI"):
        import_midi(midi_set, "strict", data_dir=tmp_path / "data", strict=True)
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").iterdir())


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    rolls = {
        split: [_random_roll(i, 16 + i) for i in range(2)] for split in ("train", "valid", "test")
    }
    for split, split_rolls in rolls.items():
        for index, roll in enumerate(split_rolls):
            roll_to_midi(roll, tmp_path / "export" / split / f"{index}.mid", steps_per_beat=2)
    import_midi(tmp_path / "export", "round-trip", steps_per_beat=2, data_dir=tmp_path / "data")
    dataset = load("round-trip", tmp_path / "data")
    for split, split_rolls in rolls.items():
        for got, want in zip(dataset.split(split), split_rolls, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("jsb", UsageError, "taken by the built-in 'jsb'"),
        ("JSB Chorales", UsageError, "taken by the built-in 'jsb'"),
        ("Bad Name!", UsageError, "invalid dataset name"),
    ],
)
def test_import_rejects_bad_names(
    midi_set: Path, tmp_path: Path, name: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        import_midi(midi_set, name, data_dir=tmp_path / "data")


def test_import_needs_all_three_splits(midi_set: Path, tmp_path: Path) -> None:
    for path in (midi_set / "valid").iterdir():
        path.unlink()
    with pytest.raises(UsageError, match=r"no MIDI files under valid/"):
        import_midi(midi_set, "partial", data_dir=tmp_path / "data")


def test_corrupt_bytes_name_the_file() -> None:
    with pytest.raises(DataError, match=r"^song\.mid: corrupt MIDI"):
        read_midi(b"not midi at all", "song.mid")


def test_unknown_dataset_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'nottingham'"):
        load("notingham", tmp_path)

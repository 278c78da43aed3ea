"""Damaged files in a data dir: caches and imported.json. One-line errors, never a traceback,
never numpy's advice to unpickle; `download` replaces a damaged cache instead of trusting it."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnbench.data import fetch, import_midi, load
from rnnbench.data.catalog import catalog
from rnnbench.data.midi import roll_to_midi
from rnnbench.errors import DataError
from tests.data.helpers import run_data

_run = run_data


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# --- damaged caches: each damage is applied to a real cache written by `fetch` -------------------


def _empty(raw: bytes, path: Path) -> bytes:
    return b""


def _truncated(raw: bytes, path: Path) -> bytes:
    return raw[: len(raw) // 2]


def _pickle(raw: bytes, path: Path) -> bytes:
    return pickle.dumps({"train": [[60, 64]]}, protocol=2)  # numpy would suggest unpickling it


def _npy(raw: bytes, path: Path) -> bytes:
    np.save(path.with_suffix(".npy"), np.zeros((3, 11), dtype=np.uint8))
    return path.with_suffix(".npy").read_bytes()  # a valid .npy, not an .npz


def _flipped_byte(raw: bytes, path: Path) -> bytes:
    """One bit inside the train frames: the zip CRC no longer matches."""
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo("train_frames.npy").header_offset + 1000
    return raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1 :]


def _flipped_note_resaved(raw: bytes, path: Path) -> bytes:
    """One note changed, the archive written again: a well-formed .npz, only the digest differs."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["train_frames"] = arrays["train_frames"].copy()
    row = min(100, len(arrays["train_frames"]) - 1)  # imported test datasets are tiny
    arrays["train_frames"][row, 5] ^= 0x10
    np.savez(path, **arrays)
    return path.read_bytes()


def _object_meta(raw: bytes, path: Path) -> bytes:
    """A real .npz whose metadata is a pickled object array (loading it would unpickle)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays: dict[str, Any] = {key: archive[key] for key in archive.files}
    arrays["meta"] = np.array([{"format": 1}], dtype=object)
    np.savez(path, **arrays)
    return path.read_bytes()


DAMAGES: dict[str, tuple[Callable[[bytes, Path], bytes], str]] = {
    "empty": (_empty, "unreadable cache file (empty)"),
    "truncated": (_truncated, "unreadable cache file (damaged archive: File is not a zip file)"),
    "pickle": (_pickle, "unreadable cache file (not an .npz archive)"),
    "npy": (_npy, "unreadable cache file (not an .npz archive)"),
    "flipped-byte": (_flipped_byte, "cache file has a damaged 'train_frames' array (Bad CRC-32"),
    "flipped-note": (_flipped_note_resaved, "cache is corrupt (content digest mismatch)"),
    "object-meta": (_object_meta, "cache file has a damaged 'meta' array (invalid array data)"),
}


@pytest.fixture
def damaged(data_dir_all: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A data dir whose jsb.npz is a copy of a good cache with the damage named by the param."""
    damage, _ = DAMAGES[request.param]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / "jsb.npz"
    shutil.copy(data_dir_all / "jsb.npz", path)
    path.write_bytes(damage(path.read_bytes(), path))
    for leftover in data_dir.glob("*.npy"):
        leftover.unlink()
    return data_dir


def damages(test: Callable[..., None]) -> Callable[..., None]:
    """Run `test` once per damage (needs the mirror, for the good cache it starts from)."""
    cases = [(name, message) for name, (_, message) in DAMAGES.items()]
    parametrize = pytest.mark.parametrize(
        ("damaged", "message"), cases, indirect=["damaged"], ids=list(DAMAGES)
    )
    return pytest.mark.mirror(parametrize(test))


@damages
def test_damaged_cache_is_a_one_line_error(damaged: Path, message: str) -> None:
    path = damaged / "jsb.npz"
    with pytest.raises(DataError, match="^" + str(path)) as caught:
        load("jsb", damaged)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    code, _, stderr = _run("info", "jsb", "--data-dir", damaged)
    line = _one_line_error(stderr)
    assert code == 1 and line.startswith(f"error: {path}: ") and message in line
    assert "pickle" not in line.lower()
    assert line.endswith("run `rnnbench data download jsb`")  # a built-in is downloaded again


@damages
def test_verify_and_list_report_a_damaged_cache(damaged: Path, message: str) -> None:
    code, stdout, stderr = _run("verify", "--data-dir", damaged)
    assert code == 1 and stdout.split()[:3] == ["jsb", "FAILED", f"{damaged / 'jsb.npz'}:"]
    assert message in stdout
    assert _one_line_error(stderr) == "error: 1 of 1 dataset(s) failed verification"
    code, stdout, _ = _run("list", "--format", "json", "--data-dir", damaged)
    assert code == 0 and json.loads(stdout)[0]["cached"] is False
    assert [row["cached"] for row in catalog(damaged)] == [False] * 4


@damages
def test_download_replaces_a_damaged_cache(damaged: Path, message: str, mirror_dir: Path) -> None:
    before = (damaged / "jsb.npz").read_bytes()
    code, stdout, stderr = _run(
        "download", "jsb", "--mirror", mirror_dir, "--offline", "--data-dir", damaged
    )
    assert code == 0, stderr
    assert stdout.split() == ["jsb", str(damaged / "jsb.npz")]
    assert (damaged / "jsb.npz").read_bytes() != before
    assert load("jsb", damaged).meta["source"].startswith(str(mirror_dir))
    code, stdout, _ = _run("verify", "--data-dir", damaged)
    assert code == 0 and stdout.split() == ["jsb", "ok"]


@pytest.mark.mirror
def test_intact_cache_is_kept_without_fetching(data_dir_all: Path, tmp_path: Path) -> None:
    shutil.copy(data_dir_all / "jsb.npz", tmp_path)
    before = (tmp_path / "jsb.npz").stat().st_mtime_ns
    assert fetch("jsb", tmp_path, tmp_path / "no-mirror", offline=True) == tmp_path / "jsb.npz"
    assert (tmp_path / "jsb.npz").stat().st_mtime_ns == before


# --- imported.json: a real import, then its record or the whole file damaged ---------------------


@pytest.fixture(scope="module")
def imported_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with one real imported dataset, 'mine' (read-only: tests copy it)."""
    root = tmp_path_factory.mktemp("imported")
    roll = np.zeros((8, 88), dtype=np.uint8)  # (T, 88)
    roll[:4, 39] = roll[4:, 43] = 1
    for split in ("train", "valid", "test"):
        roll_to_midi(roll, root / "songs" / split / "song.mid", steps_per_beat=2)
    import_midi(root / "songs", "mine", data_dir=root / "data")
    return root / "data"


def _drop(field: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: {key: value for key, value in record.items() if key != field}


RECORDS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "empty": (lambda record: {}, "'digest' missing or not a string"),
    "number": (lambda record: 5, "expected a mapping, got int"),
    "list": (lambda record: [record], "expected a mapping, got list"),
    "no-digest": (_drop("digest"), "'digest' missing or not a string"),
    "no-frames": (_drop("frames"), "'frames' must map train, valid, test to counts"),
    "split-missing": (
        lambda record: {**record, "sequences": {"train": 1, "valid": 1}},
        "'sequences' must map train, valid, test to counts",
    ),
    "count-text": (
        lambda record: {**record, "frames": {**record["frames"], "test": "8"}},
        "'frames' must map train, valid, test to counts",
    ),
    "steps-per-beat": (
        lambda record: {**record, "steps_per_beat": 0},
        "'steps_per_beat' is not a positive integer",
    ),
}


@pytest.mark.parametrize(("change", "problem"), RECORDS.values(), ids=list(RECORDS))
def test_malformed_imported_record_names_file_and_entry(
    imported_dir: Path, tmp_path: Path, change: Callable[[dict[str, Any]], Any], problem: str
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(imported_dir, data_dir)
    registry = data_dir / "imported.json"
    document = json.loads(registry.read_text())
    document["datasets"]["mine"] = change(document["datasets"]["mine"])
    registry.write_text(json.dumps(document))
    expected = f"error: {registry}: invalid entry 'mine' in local dataset registry ({problem})"
    for args in (("list",), ("info", "mine"), ("verify", "mine"), ("verify",)):
        code, _, stderr = _run(*args, "--data-dir", data_dir)
        assert (code, _one_line_error(stderr)) == (1, expected), args
    with pytest.raises(DataError, match="invalid entry 'mine'"):
        load("mine", data_dir)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe{\x00}\x00", "unreadable local dataset registry (not UTF-8 text)"),
        (b'{"datasets": {"mine": ', "unreadable local dataset registry (Expecting value"),
        (b"[1]", "invalid local dataset registry (no 'datasets' mapping)"),
    ],
    ids=["not-utf8", "truncated", "not-a-mapping"],
)
def test_unreadable_imported_json_names_the_file(
    imported_dir: Path, tmp_path: Path, content: bytes, problem: str
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(imported_dir, data_dir)
    (data_dir / "imported.json").write_bytes(content)
    for args in (("list",), ("info", "mine")):
        code, _, stderr = _run(*args, "--data-dir", data_dir)
        line = _one_line_error(stderr)
        assert code == 1 and line.startswith(f"error: {data_dir / 'imported.json'}: {problem}")


@pytest.mark.parametrize("damage", ["truncated", "flipped-note"])
def test_damaged_imported_cache_says_import_again(
    imported_dir: Path, tmp_path: Path, damage: str
) -> None:
    """An imported dataset has no download address: the remedy named is a re-import."""
    data_dir = tmp_path / "data"
    shutil.copytree(imported_dir, data_dir)
    path = data_dir / "mine.npz"
    path.write_bytes(DAMAGES[damage][0](path.read_bytes(), path))
    code, _, stderr = _run("info", "mine", "--data-dir", data_dir)
    line = _one_line_error(stderr)
    assert code == 1 and line.startswith(f"error: {path}: ") and DAMAGES[damage][1] in line
    assert line.endswith("import it again with `rnnbench data import-midi ... --name mine --force`")
    assert "download" not in line
    songs = imported_dir.parent / "songs"
    code, _, _ = _run("import-midi", songs, "--name", "mine", "--force", "--data-dir", data_dir)
    assert code == 0 and _run("verify", "mine", "--data-dir", data_dir)[0] == 0


def test_intact_import_still_lists_and_verifies(imported_dir: Path) -> None:
    code, stdout, _ = _run("list", "--format", "json", "--data-dir", imported_dir)
    assert code == 0 and json.loads(stdout)[-1]["name"] == "mine"
    assert json.loads(stdout)[-1]["cached"] is True
    code, stdout, _ = _run("verify", "mine", "--data-dir", imported_dir)
    assert code == 0 and stdout.split() == ["mine", "ok"]


def test_import_into_a_damaged_registry_fails_before_writing(
    imported_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(imported_dir, data_dir)
    (data_dir / "imported.json").write_text('{"datasets": {"mine": 5}}')
    songs = imported_dir.parent / "songs"
    code, _, stderr = _run("import-midi", songs, "--name", "other", "--data-dir", data_dir)
    assert code == 1 and "invalid entry 'mine'" in _one_line_error(stderr)
    assert not (data_dir / "other.npz").exists()


def _songs(root: Path, pitch: int) -> Path:
    """A folder of one-song train/valid/test splits; `pitch` tells two versions apart."""
    roll = np.zeros((8, 88), dtype=np.uint8)  # (T, 88)
    roll[:, pitch] = 1
    for split in ("train", "valid", "test"):
        roll_to_midi(roll, root / split / "song.mid", steps_per_beat=2)
    return root


def test_import_refuses_to_replace_a_dataset_without_force(
    imported_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(imported_dir, data_dir)
    before = (data_dir / "mine.npz").read_bytes()
    songs = _songs(tmp_path / "other", 50)
    code, _, stderr = _run("import-midi", songs, "--name", "mine", "--data-dir", data_dir)
    assert code == 1 and _one_line_error(stderr) == (
        f"error: dataset 'mine' already exists ({data_dir / 'mine.npz'}); use --force to replace it"
    )
    assert (data_dir / "mine.npz").read_bytes() == before
    code, _, _ = _run("import-midi", songs, "--name", "mine", "--force", "--data-dir", data_dir)
    assert code == 0 and (data_dir / "mine.npz").read_bytes() != before
    code, stdout, _ = _run("verify", "mine", "--data-dir", data_dir)
    assert code == 0 and stdout.split() == ["mine", "ok"]
    assert sorted(p.name for p in data_dir.iterdir()) == ["imported.json", "mine.npz"]


def test_import_force_still_refuses_a_builtin_name(imported_dir: Path, tmp_path: Path) -> None:
    songs = imported_dir.parent / "songs"
    code, _, stderr = _run("import-midi", songs, "--name", "JSB", "--force", "--data-dir", tmp_path)
    assert code == 2
    assert _one_line_error(stderr) == "error: dataset name 'JSB' is taken by the built-in 'jsb'"
    assert list(tmp_path.iterdir()) == []


def test_failed_registry_write_keeps_the_old_dataset(imported_dir: Path, tmp_path: Path) -> None:
    """The registry cannot be replaced (a directory stands in its way, which stops root too)."""
    data_dir = tmp_path / "data"
    shutil.copytree(imported_dir, data_dir)
    registry = data_dir / "imported.json"
    before = (data_dir / "mine.npz").read_bytes(), registry.read_bytes()
    registry.rename(tmp_path / "imported.json.saved")
    registry.mkdir()
    songs = _songs(tmp_path / "other", 50)
    code, _, stderr = _run(
        "import-midi", songs, "--name", "mine", "--force", "--data-dir", data_dir
    )
    assert (
        code == 1 and _one_line_error(stderr) == f"error: {registry}: cannot write (Is a directory)"
    )
    registry.rmdir()
    (tmp_path / "imported.json.saved").rename(registry)
    assert ((data_dir / "mine.npz").read_bytes(), registry.read_bytes()) == before
    assert sorted(p.name for p in data_dir.iterdir()) == ["imported.json", "mine.npz"]
    code, stdout, _ = _run("verify", "mine", "--data-dir", data_dir)
    assert code == 0 and stdout.split() == ["mine", "ok"]


ZIP_ENTRY = "train/bad.mid"


def _set_header_field(data: bytearray, entry: str, local: int, central: int, value: bytes) -> None:
    """Overwrite a field of `entry`'s local and central headers (offsets from each signature)."""
    for signature, offset, header in ((b"PK\x03\x04", local, 30), (b"PK\x01\x02", central, 46)):
        at = data.find(signature)
        while at != -1:
            if data[at + header : at + header + len(entry)] == entry.encode():
                data[at + offset : at + offset + len(value)] = value
            at = data.find(signature, at + 1)


def _damage_compressed(data: bytearray) -> None:
    start = data.find(ZIP_ENTRY.encode()) + len(ZIP_ENTRY)  # the local header's name, then data
    data[start : start + 8] = b"\xff" * 8


ZIP_DAMAGES: dict[str, tuple[Callable[[bytearray], None], str]] = {
    "damaged-deflate": (
        _damage_compressed,
        "damaged compressed data: Error -3 while decompressing data",
    ),
    "encrypted": (
        lambda data: _set_header_field(data, ZIP_ENTRY, 6, 8, b"\x01"),  # flag bit 0
        "encrypted, a password is required",
    ),
    "unknown-method": (
        lambda data: _set_header_field(data, ZIP_ENTRY, 8, 10, (77).to_bytes(2, "little")),
        "compression method 77 is not supported",
    ),
}


def _damaged_zip(path: Path, damage: Callable[[bytearray], None]) -> Path:
    """A zip of good train/valid/test songs plus train/bad.mid (deflated), then damaged."""
    songs = _songs(path.parent / "zip-songs", 40)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for split in ("train", "valid", "test"):
            archive.write(songs / split / "song.mid", f"{split}/song.mid")
        archive.writestr(ZIP_ENTRY, (songs / "train" / "song.mid").read_bytes() * 20)
    data = bytearray(path.read_bytes())
    damage(data)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("damage", "reason"), ZIP_DAMAGES.values(), ids=list(ZIP_DAMAGES))
def test_unreadable_zip_entry_names_archive_and_entry(
    tmp_path: Path, damage: Callable[[bytearray], None], reason: str
) -> None:
    archive = _damaged_zip(tmp_path / "songs.zip", damage)
    data_dir = tmp_path / "data"
    where = f"{archive}: entry '{ZIP_ENTRY}' is unreadable ({reason}"
    code, _, stderr = _run(
        "import-midi", archive, "--name", "z", "--strict", "--data-dir", data_dir
    )
    assert code == 1 and _one_line_error(stderr).startswith(f"error: {where}")
    assert "--strict: import stopped" in stderr and not data_dir.exists()
    code, stdout, stderr = _run("import-midi", archive, "--name", "z", "--data-dir", data_dir)
    assert code == 0 and stdout.split()[:2] == ["z", str(data_dir / "z.npz")]
    assert stderr.startswith(f"warning: skipped {where}") and "Traceback" not in stderr

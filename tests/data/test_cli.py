"""`rnnbench data ...` through the real CLI: results on stdout, one-line errors, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pretty_midi
import pytest

from rnnbench.data import load
from rnnbench.data.midi import midi_to_roll
from tests.data.helpers import run_data

_run = run_data


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[-1]


@pytest.mark.mirror
def test_download_verify_info_over_http(mirror_url: str, tmp_path: Path) -> None:
    code, stdout, _ = _run(
        "download", "JSB Chorales", "--mirror", mirror_url, "--offline", "--data-dir", tmp_path
    )
    assert code == 0 and stdout.split() == ["jsb", str(tmp_path / "jsb.npz")]
    code, stdout, _ = _run("verify", "--data-dir", tmp_path)
    assert code == 0 and stdout.split() == ["jsb", "ok"]
    code, stdout, _ = _run("info", "jsb", "--format", "json", "--data-dir", tmp_path)
    info = json.loads(stdout)
    assert code == 0 and info["name"] == "jsb" and info["note_range"] == [43, 96]
    assert {split: info["splits"][split]["sequences"] for split in info["splits"]} == {
        "train": 229,
        "valid": 76,
        "test": 77,
    }
    assert info["splits"]["test"]["frames"] == 4725
    assert info["digest"] == load("jsb", tmp_path).digest
    assert (
        1 <= info["splits"]["train"]["polyphony_mean"] <= info["splits"]["train"]["polyphony_max"]
    )


@pytest.mark.mirror
def test_list_json_reports_cached_datasets(data_dir_all: Path) -> None:
    code, stdout, _ = _run("list", "--format", "json", "--data-dir", data_dir_all)
    rows = json.loads(stdout)
    assert code == 0
    assert [(row["name"], row["cached"]) for row in rows] == [
        ("jsb", True),
        ("nottingham", True),
        ("musedata", True),
        ("piano-midi", True),
    ]
    code, stdout, _ = _run("list", "--data-dir", data_dir_all)
    assert code == 0 and "Piano-midi.de" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("info", "jsbb"), "unknown dataset 'jsbb'; did you mean 'jsb'?"),
        (("download", "musedat"), "unknown dataset 'musedat'; did you mean 'musedata'?"),
        (("download",), "name at least one dataset (see `rnnbench data list`) or use --all"),
        (("download", "jsb", "--all"), "give dataset names or --all, not both"),
        (
            ("download", "jsb", "--mirror", "http://[::1", "--offline"),
            "invalid mirror 'http://[::1': Invalid IPv6 URL",
        ),
        (
            ("download", "jsb", "--mirror", "https:/no-host"),
            "invalid mirror 'https:/no-host': no host",
        ),
        (
            ("download", "jsb", "--mirror", "http://h:port"),
            "invalid mirror 'http://h:port': Port could not be cast to integer value as 'port'",
        ),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, _, stderr = _run(*args, "--data-dir", tmp_path)
    assert code == 2
    assert _one_line_error(stderr) == f"error: {message}"


@pytest.mark.parametrize("args", [("list",), ("info", "jsb"), ("verify", "jsb")])
def test_a_data_dir_that_is_a_file_exits_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("")
    code, stdout, stderr = _run(*args, "--data-dir", not_a_dir)
    assert code == 2 and stdout == ""
    expected = f"error: data dir {not_a_dir}: is a file, expected a directory"
    assert _one_line_error(stderr) == expected


def test_verify_of_a_dataset_not_downloaded_exits_1(tmp_path: Path) -> None:
    code, stdout, stderr = _run("verify", "Piano-midi.de", "--data-dir", tmp_path)
    assert code == 1
    assert stdout.split()[:5] == ["piano-midi", "FAILED", "dataset", "'piano-midi'", "is"]
    assert _one_line_error(stderr) == "error: 1 of 1 dataset(s) failed verification"


def test_download_failure_exits_1_listing_what_was_tried(dead_url: str, tmp_path: Path) -> None:
    code, stdout, stderr = _run(
        "download", "jsb", "--mirror", dead_url, "--offline", "--data-dir", tmp_path
    )
    assert code == 1 and stdout == ""
    line = _one_line_error(stderr)
    assert line.startswith("error: could not fetch 'jsb', 2 sources tried: ")
    assert f"{dead_url}/JSB_Chorales.mat: unreachable (Connection refused)" in line
    assert f"{dead_url}/JSB%20Chorales.pickle: unreachable" in line
    assert stderr.count(dead_url) == 2  # each address once: no 'skipped' line repeats it
    assert not (tmp_path / "jsb.npz").exists()


@pytest.mark.mirror
def test_verify_fails_on_a_damaged_cache(data_dir_all: Path, tmp_path: Path) -> None:
    shutil.copy(data_dir_all / "jsb.npz", tmp_path)
    raw = bytearray((tmp_path / "jsb.npz").read_bytes())
    raw[-2000] ^= 0x01
    (tmp_path / "jsb.npz").write_bytes(bytes(raw))
    code, stdout, stderr = _run("verify", "--data-dir", tmp_path)
    assert code == 1 and stdout.split()[:2] == ["jsb", "FAILED"]
    assert _one_line_error(stderr) == "error: 1 of 1 dataset(s) failed verification"


@pytest.mark.mirror
def test_export_midi_writes_the_roll(data_dir_all: Path, tmp_path: Path) -> None:
    out = tmp_path / "chorale.mid"
    code, stdout, _ = _run(
        "export-midi",
        "jsb",
        "--split",
        "test",
        "--index",
        "3",
        "--out",
        out,
        "--data-dir",
        data_dir_all,
    )
    assert code == 0 and stdout.startswith(str(out))
    roll, _ = midi_to_roll(pretty_midi.PrettyMIDI(str(out)), steps_per_beat=1)
    assert (roll == load("jsb", data_dir_all).test[3]).all()


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--split", "tset", "--index", "0"), "unknown split 'tset'; did you mean 'test'?"),
        (
            ("--split", "test", "--index", "77"),
            "--index 77 out of range: jsb/test has 77 sequences",
        ),
    ],
)
def test_export_midi_bad_selection_exits_2(
    data_dir_all: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "x.mid"
    code, _, stderr = _run("export-midi", "jsb", *args, "--out", out, "--data-dir", data_dir_all)
    assert code == 2 and _one_line_error(stderr) == f"error: {message}"
    assert not out.exists()


def test_import_midi_then_use_the_name_everywhere(tmp_path: Path) -> None:
    import numpy as np

    from rnnbench.data.midi import roll_to_midi

    songs = tmp_path / "songs"
    roll = np.zeros((8, 88), dtype=np.uint8)  # (T, 88)
    roll[:4, 39] = roll[4:, 43] = 1
    for split in ("train", "valid", "test"):
        roll_to_midi(roll, songs / split / "song.mid", steps_per_beat=2)
    (songs / "train" / "bad.mid").write_bytes(b"garbage")
    data_dir = tmp_path / "data"
    code, stdout, stderr = _run("import-midi", songs, "--name", "mine", "--data-dir", data_dir)
    assert code == 0 and stdout.split()[:2] == ["mine", str(data_dir / "mine.npz")]
    assert "warning: skipped train/bad.mid: corrupt MIDI" in stderr
    code, stdout, _ = _run("info", "mine", "--format", "json", "--data-dir", data_dir)
    assert code == 0 and json.loads(stdout)["splits"]["train"] == {
        **json.loads(stdout)["splits"]["train"],
        "sequences": 1,
        "frames": 8,
    }
    code, stdout, _ = _run("list", "--format", "json", "--data-dir", data_dir)
    assert {"name": "mine", "kind": "imported", "cached": True}.items() <= json.loads(stdout)[
        -1
    ].items()
    code, stdout, _ = _run("verify", "mine", "--data-dir", data_dir)
    assert code == 0 and stdout.split() == ["mine", "ok"]
    code, _, stderr = _run(
        "import-midi", songs, "--name", "strict", "--strict", "--data-dir", data_dir
    )
    assert code == 1 and "train/bad.mid: corrupt MIDI" in _one_line_error(stderr)
    code, _, stderr = _run(
        "import-midi", tmp_path / "nowhere", "--name", "x", "--data-dir", data_dir
    )
    assert code == 2 and "no such folder or zip file" in _one_line_error(stderr)

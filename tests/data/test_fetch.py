"""Download through the real path: loopback HTTP, ordered fallback, verification, atomic cache."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rnnbench.data import FetchEvent, builtin_specs, fetch, load
from rnnbench.data.registry import Source
from rnnbench.data.stats import dataset_stats
from rnnbench.errors import DataError

# The statistics table of ../shared/datasets/README.md: split sizes, train lengths, note range.
README_TABLE = {
    "jsb": ((229, 76, 77), (13807, 4602, 4725), (25, 60.3, 129), (43, 96)),
    "nottingham": ((694, 173, 170), (176561, 45513, 44463), (40, 254.4, 1788), (31, 93)),
    "musedata": ((524, 135, 124), (245202, 82755, 64339), (9, 467.9, 3457), (21, 105)),
    "piano-midi": ((87, 12, 25), (75911, 8540, 19036), (111, 872.5, 3857), (21, 108)),
}
pytestmark = pytest.mark.mirror


@pytest.mark.parametrize("name", list(builtin_specs()))
def test_http_download_matches_readme_table(mirror_url: str, tmp_path: Path, name: str) -> None:
    path = fetch(name, data_dir=tmp_path, mirror=mirror_url, offline=True)
    assert path == tmp_path / f"{name}.npz"
    stats = dataset_stats(load(name, data_dir=tmp_path))
    sequences, frames, train_lengths, note_range = README_TABLE[name]
    splits = stats["splits"]
    assert tuple(splits[s]["sequences"] for s in ("train", "valid", "test")) == sequences
    assert tuple(splits[s]["frames"] for s in ("train", "valid", "test")) == frames
    train = splits["train"]
    assert (
        train["length_min"],
        round(train["length_mean"], 1),
        train["length_max"],
    ) == train_lengths
    assert tuple(stats["note_range"]) == note_range
    assert stats["digest"] == builtin_specs()[name].digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.npz"]  # no temp files left


def _events() -> tuple[list[FetchEvent], object]:
    events: list[FetchEvent] = []
    return events, events.append


def test_truncated_http_body_falls_through(
    mirror_url: str, truncating_url: str, tmp_path: Path
) -> None:
    events, listen = _events()
    truncated = truncating_url
    fetch("jsb", tmp_path, [truncated, mirror_url], offline=True, progress=listen)  # type: ignore[arg-type]
    failed = [e for e in events if e.kind == "failed"]
    assert [e.location.startswith(truncated) for e in failed] == [True, True]
    assert all("truncated" in e.message for e in failed)
    assert load("jsb", tmp_path).meta["source"] == f"{mirror_url}/JSB_Chorales.mat"


def test_truncated_file_in_folder_falls_to_next_source(mirror_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = (mirror_dir / "JSB_Chorales.mat").read_bytes()
    (mirror / "JSB_Chorales.mat").write_bytes(data[: len(data) // 2])
    shutil.copy(mirror_dir / "JSB Chorales.pickle", mirror)
    events, listen = _events()
    fetch("jsb", tmp_path / "data", mirror, offline=True, progress=listen)  # type: ignore[arg-type]
    failed = [e for e in events if e.kind == "failed"]
    assert len(failed) == 1 and "sha256 mismatch" in failed[0].message
    dataset = load("jsb", tmp_path / "data")
    assert dataset.meta["source"].endswith("JSB Chorales.pickle")
    assert dataset.digest == builtin_specs()["jsb"].digest


def test_unreachable_host_falls_through(mirror_url: str, dead_url: str, tmp_path: Path) -> None:
    events, listen = _events()
    fetch("piano-midi", tmp_path, [dead_url, mirror_url], offline=True, progress=listen)  # type: ignore[arg-type]
    failed = [e for e in events if e.kind == "failed"]
    assert failed and all(e.location.startswith(dead_url) for e in failed)
    assert all("unreachable" in e.message for e in failed)
    assert load("piano-midi", tmp_path).meta["source"].startswith(mirror_url)


def test_http_404_falls_through(mirror_url: str, tmp_path: Path) -> None:
    events, listen = _events()
    fetch("jsb", tmp_path, [f"{mirror_url}/missing", mirror_url], offline=True, progress=listen)  # type: ignore[arg-type]
    failed = [e.message for e in events if e.kind == "failed"]
    assert failed == ["HTTP 404 File not found", "HTTP 404 File not found"]


def test_data_dir_defaults_to_env_then_cwd_data(
    mirror_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RNNBENCH_DATA_DIR", raising=False)
    assert fetch("jsb", mirror=mirror_dir, offline=True) == Path("data") / "jsb.npz"
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match=r"is not in .*elsewhere: run `rnnbench data download jsb`"):
        load("jsb")
    fetch("jsb", mirror=mirror_dir, offline=True)
    assert load("jsb").name == "jsb"


def test_every_source_failing_lists_attempts_and_writes_nothing(
    dead_url: str, tmp_path: Path
) -> None:
    with pytest.raises(DataError) as caught:
        fetch("jsb", tmp_path, [dead_url, tmp_path / "empty"], offline=True)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{dead_url}/JSB_Chorales.mat: unreachable" in message
    assert f"{tmp_path / 'empty' / 'JSB Chorales.pickle'}: no such file" in message
    assert list(tmp_path.iterdir()) == []


def test_failed_refetch_keeps_the_valid_cache(
    mirror_url: str, dead_url: str, tmp_path: Path
) -> None:
    fetch("jsb", tmp_path, mirror_url, offline=True)
    before = (tmp_path / "jsb.npz").read_bytes()
    with pytest.raises(DataError):
        fetch("jsb", tmp_path, dead_url, offline=True, force=True)
    assert (tmp_path / "jsb.npz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jsb.npz"]


def _write_original_pickle(splits: dict[str, list[np.ndarray]], path: Path) -> None:
    """The original format: {split: [sequence: [step: (midi notes...)]]}, protocol 2."""
    import pickle

    raw = {split: [_roll_to_steps(roll) for roll in rolls] for split, rolls in splits.items()}
    path.write_bytes(pickle.dumps(raw, protocol=2))


def _roll_to_steps(roll: np.ndarray) -> list[tuple[int, ...]]:
    frames, keys = np.nonzero(roll)  # row-major: grouped by frame
    per_frame = np.split(keys + 21, np.cumsum(np.bincount(frames, minlength=len(roll)))[:-1])
    return [tuple(notes.tolist()) for notes in per_frame]


def _only_sources(monkeypatch: pytest.MonkeyPatch, name: str, *sources: Source) -> None:
    """Give the built-in `name` these sources for one test (the registry dict is restored after)."""
    specs = builtin_specs()
    monkeypatch.setitem(specs, name, specs[name].model_copy(update={"sources": sources}))


def _write_mat(splits: dict[str, list[np.ndarray]], path: Path) -> None:
    """The .mat format: traindata/validdata/testdata, 1xN cells of (T, 88) 0/1 matrices."""
    import scipy.io

    contents = {}
    for split, rolls in splits.items():
        cells = np.empty((1, len(rolls)), dtype=object)  # MATLAB 1xN cell array
        for index, roll in enumerate(rolls):
            cells[0, index] = roll.astype(np.uint8)
        contents[f"{split}data"] = cells
    scipy.io.savemat(path, contents)


def test_unpinned_non_pickle_source_is_accepted_by_content_digest(
    data_dir_all: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _only_sources(
        monkeypatch, "nottingham", Source(url="http://x.invalid/Unpinned.mat", format="mat")
    )
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write_mat(load("nottingham", data_dir_all).splits, mirror / "Unpinned.mat")
    fetch("nottingham", tmp_path / "data", mirror, offline=True)
    assert load("nottingham", tmp_path / "data").meta["source"].endswith("Unpinned.mat")


def test_unpinned_non_pickle_source_with_altered_content_is_refused(
    data_dir_all: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _only_sources(
        monkeypatch, "nottingham", Source(url="http://x.invalid/Unpinned.mat", format="mat")
    )
    splits = {
        s: [roll.copy() for roll in rolls]
        for s, rolls in load("nottingham", data_dir_all).splits.items()
    }
    splits["test"][-1][-1, 60] ^= 1  # one note of one frame
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write_mat(splits, mirror / "Unpinned.mat")
    with pytest.raises(DataError, match=r"content digest .* differs from the registry"):
        fetch("nottingham", tmp_path / "data", mirror, offline=True)
    assert not (tmp_path / "data" / "nottingham.npz").exists()


def test_unpinned_pickle_source_is_refused_without_being_downloaded(
    data_dir_all: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    serve_folder: Callable[[Path], tuple[str, list[str]]],
) -> None:
    """Even a pickle whose content would match the digest is never decoded without a sha256."""
    folder = tmp_path / "served"
    folder.mkdir()
    _write_original_pickle(load("nottingham", data_dir_all).splits, folder / "Nottingham.pickle")
    url, requested = serve_folder(folder)
    _only_sources(
        monkeypatch, "nottingham", Source(url=f"{url}/Nottingham.pickle", format="pickle")
    )
    events, listen = _events()
    with pytest.raises(DataError) as caught:
        fetch("nottingham", tmp_path / "data", [], offline=False, progress=listen)  # type: ignore[arg-type]
    reason = "refused: a pickle without a published sha256 is never decoded (not downloaded)"
    assert str(caught.value) == (
        f"could not fetch 'nottingham', 1 source tried: {url}/Nottingham.pickle: {reason}; "
        "without network access, put the files in a folder and use --mirror DIR "
        "(with --offline to skip the public addresses)"
    )
    assert [(e.kind, e.message) for e in events] == [("failed", reason)]
    assert requested == []  # refused before any byte was fetched
    assert not (tmp_path / "data" / "nottingham.npz").exists()


def test_valid_cache_is_not_downloaded_again(data_dir_all: Path, dead_url: str) -> None:
    assert fetch("jsb", data_dir_all, dead_url, offline=True) == data_dir_all / "jsb.npz"

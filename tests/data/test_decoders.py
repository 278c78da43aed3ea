"""Safe decoding: the restricted unpickler, .mat validation, format-independent digests."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io

from rnnbench.data import builtin_specs, fetch
from rnnbench.data.decoders import UnsafePickleError, decode_mat, decode_pickle
from rnnbench.data.digest import digest_splits
from rnnbench.errors import DataError


@pytest.mark.mirror
def test_jsb_digest_is_the_same_from_pickle_and_mat(mirror_dir: Path) -> None:
    from_pickle = digest_splits(decode_pickle(mirror_dir / "JSB Chorales.pickle"))
    from_mat = digest_splits(decode_mat(mirror_dir / "JSB_Chorales.mat"))
    assert from_pickle == from_mat == builtin_specs()["jsb"].digest


def test_digest_sees_order_frames_and_notes() -> None:
    rng = np.random.default_rng(0)
    rolls = [(rng.random((t, 88)) < 0.05).astype(np.uint8) for t in (5, 7, 3)]
    base = {"train": rolls, "valid": rolls[:1], "test": rolls[1:]}
    flipped = [r.copy() for r in rolls]
    flipped[0][2, 40] ^= 1
    variants = [
        {**base, "train": rolls[::-1]},  # sequence order
        {**base, "train": [rolls[0][:-1], *rolls[1:]]},  # one frame fewer
        {**base, "train": flipped},  # one note
        {"train": base["valid"], "valid": base["train"], "test": base["test"]},  # split swap
    ]
    assert len({digest_splits(base), *(digest_splits(v) for v in variants)}) == 5


class _Payload:
    """Unpickling this would call `function(*arguments)`."""

    def __init__(self, function: Any, *arguments: Any) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.arguments


def _payloads(marker: Path) -> dict[str, Any]:
    import subprocess

    return {
        "os.system": _Payload(os.system, f"touch '{marker}'"),
        "builtins.exec": _Payload(exec, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.call": _Payload(subprocess.call, ["touch", str(marker)]),
        "numpy.save": _Payload(np.save, str(marker), np.zeros(1)),  # numpy, but not allow-listed
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.exec", "subprocess.call", "numpy.save"])
def test_pickle_with_code_payload_is_refused_without_running(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "pwned"
    payload = {"train": [[(60,)]], "valid": [[(60,)]], "test": [_payloads(marker)[kind]]}
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"evil\.pickle: unsafe pickle: refused global"):
        decode_pickle(path)
    assert not marker.exists()
    assert not marker.with_suffix(".npy").exists()


def test_unsafe_pickle_from_a_mirror_is_refused_before_unpickling(tmp_path: Path) -> None:
    """A pickle is opened only if its bytes match the published sha256: this one never is."""
    marker = tmp_path / "pwned"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    payload = {"train": [_Payload(os.system, f"touch '{marker}'")], "valid": [], "test": []}
    (mirror / "JSB Chorales.pickle").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DataError) as caught:
        fetch("jsb", tmp_path / "data", mirror, offline=True)
    assert f"{mirror / 'JSB Chorales.pickle'}: sha256 mismatch: got" in str(caught.value)
    assert "unsafe pickle" not in str(caught.value)  # refused before the unpickler saw it
    assert not marker.exists()
    assert not (tmp_path / "data" / "jsb.npz").exists()


def test_every_pickle_source_in_the_registry_is_pinned() -> None:
    for spec in builtin_specs().values():
        for source in spec.sources:
            assert source.format != "pickle" or source.sha256, (spec.name, source.url)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (["not", "a", "dict"], "expected a dict of splits"),
        ({"train": [[(60,)]], "valid": [[(60,)]]}, "missing split 'test'"),
        ({"train": [[(60,)]], "valid": [[(60,)]], "test": []}, "split 'test' is empty"),
        (
            {"train": [[(60,)]], "valid": [[(60,)]], "test": [[(20,)]]},
            r"test\[0\]: note 20 outside",
        ),
        ({"train": [[(60,)]], "valid": [[("C4",)]], "test": [[(60,)]]}, "integer note numbers"),
    ],
)
def test_malformed_pickle_is_a_clear_data_error(tmp_path: Path, payload: Any, message: str) -> None:
    path = tmp_path / "bad.pickle"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DataError, match=f"bad.pickle: .*{message}"):
        decode_pickle(path)


@pytest.mark.mirror
def test_truncated_pickle_is_a_clear_data_error(mirror_dir: Path, tmp_path: Path) -> None:
    data = (mirror_dir / "JSB Chorales.pickle").read_bytes()
    path = tmp_path / "JSB Chorales.pickle"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=r"JSB Chorales\.pickle: not a readable dataset pickle"):
        decode_pickle(path)


def _cells(*matrices: np.ndarray) -> np.ndarray:
    cells = np.empty((1, len(matrices)), dtype=object)  # MATLAB 1xN cell array
    for index, matrix in enumerate(matrices):
        cells[0, index] = matrix
    return cells


GOOD = np.eye(4, 88, dtype=np.uint8)  # (4, 88)


@pytest.mark.parametrize(
    ("testdata", "message"),
    [
        (None, "missing variable 'testdata'"),
        (_cells(GOOD[:, :87]), r"testdata\{1\}: expected a \(T, 88\) matrix"),
        (_cells(GOOD, GOOD * 2), r"testdata\{2\}: values must be 0 or 1"),
        (_cells(), "'testdata' must be a non-empty cell array"),
        (GOOD, "'testdata' must be a non-empty cell array"),
    ],
)
def test_invalid_mat_is_a_clear_data_error(tmp_path: Path, testdata: Any, message: str) -> None:
    contents = {"traindata": _cells(GOOD), "validdata": _cells(GOOD)}
    if testdata is not None:
        contents["testdata"] = testdata
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, contents)
    with pytest.raises(DataError, match=f"bad.mat: .*{message}"):
        decode_mat(path)


def test_not_a_mat_file_is_a_clear_data_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mat"
    path.write_bytes(b"this is not MATLAB")
    with pytest.raises(DataError, match=r"garbage.mat: not a readable \.mat file"):
        decode_mat(path)


@pytest.mark.mirror
def test_corrupted_cache_does_not_load(data_dir_all: Path, tmp_path: Path) -> None:
    from rnnbench.data import load

    shutil.copy(data_dir_all / "jsb.npz", tmp_path / "jsb.npz")
    raw = bytearray((tmp_path / "jsb.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "jsb.npz").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=str(tmp_path / "jsb.npz")):
        load("jsb", tmp_path)

"""Atomic writes: the old file or the whole new one, never half of one, no stray temp file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rnnbench.io import atomic_open, atomic_write_json, atomic_write_text


def test_replaces_whole_file_with_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "metrics.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable by others, not mkstemp's 0600
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_failure_midway_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "history.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half of a new file")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


@pytest.mark.parametrize("blocker", ["file", "directory"])
def test_an_unwritable_path_is_a_domain_error_naming_it(tmp_path: Path, blocker: str) -> None:
    """A file where the parent should be, or a directory where the file should be: an
    OutputError naming the path asked for (not the temporary file), nothing left behind."""
    from rnnbench.errors import OutputError

    if blocker == "file":
        (tmp_path / "plain").write_text("x")
        target = tmp_path / "plain" / "out.mid"
    else:
        target = tmp_path / "out.mid"
        target.mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(OutputError, match=f"^{target}: cannot write"):
        atomic_write_text(target, "data")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before

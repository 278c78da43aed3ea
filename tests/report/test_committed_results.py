"""The committed tables are views of the committed run records: regenerated with the README's
commands from the files git tracks, they come out byte for byte the same. A change to compare that
moves a published number, or a run committed without regenerating the tables, fails here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app

REPO = Path(__file__).resolve().parents[2]

# table file -> the README's `rnnbench compare` arguments that write it (before `--format markdown`)
TABLES = {
    "results/table2.md": ("results/paper", "--paper", "--stats"),
    "results/ablations.md": ("results/paper", "results/ablations", "--paper"),
}


def tracked_copy(destination: Path, *folders: str) -> Path:
    """The git-tracked files under `folders`, copied below `destination`. Run directories of a
    sweep still in progress (untracked) are left out, as they are from a clean clone."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z", "--", *folders],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked records cannot be told apart")
    names = [name for name in listed.stdout.decode().split("\0") if name]
    if not names:
        pytest.skip(f"no committed records under {', '.join(folders)}")
    for name in names:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, target)
    return destination


@pytest.mark.parametrize(("table", "arguments"), TABLES.items(), ids=list(TABLES))
def test_committed_table_regenerates_from_committed_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, arguments: tuple[str, ...]
) -> None:
    folders = [argument for argument in arguments if not argument.startswith("--")]
    monkeypatch.chdir(tracked_copy(tmp_path, *folders))
    result = CliRunner().invoke(app, ["compare", *arguments, "--format", "markdown"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (REPO / table).read_text(), f"{table} is stale: regenerate it"

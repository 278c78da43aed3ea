"""The committed tables are views of the committed run records: regenerated with the commands of
results/tables.sh from the files git tracks, they come out byte for byte the same. A change to
compare that moves a published number, or a run committed without regenerating the tables, fails
here."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "results" / "tables.sh"


def table_commands() -> dict[str, list[str]]:
    """results/tables.sh's `rnnbench compare ... --output TABLE` lines: table -> the arguments
    after `rnnbench`, less `--output TABLE`."""
    commands: dict[str, list[str]] = {}
    for line in SCRIPT.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] != ["rnnbench", "compare"] or "--output" not in words:
            continue
        at = words.index("--output")
        commands[words[at + 1]] = words[1:at] + words[at + 2 :]
    return commands


TABLES = table_commands()


def test_the_script_regenerates_every_committed_table() -> None:
    assert set(TABLES) == {"results/table2.md", "results/table2-batch1.md", "results/ablations.md"}


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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, arguments: list[str]
) -> None:
    folders = [argument for argument in arguments[1:] if argument.startswith("results/")]
    monkeypatch.chdir(tracked_copy(tmp_path, *folders))
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (REPO / table).read_text(), f"{table} is stale: run results/tables.sh"

"""Every `rnnbench` command shown in the README and docs/ names a real command and real options,
and the README's read-only `compare` commands run on the committed results."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
GROUPS = {"data"}  # commands with subcommands: `rnnbench data download ...`


def documented_commands(page: Path) -> list[list[str]]:
    """`rnnbench ...` lines of the page's bash blocks, as words (comments and continuations
    handled)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["rnnbench"]:
                commands.append(words[1:])
    return commands


def command_path(words: list[str]) -> list[str]:
    return words[:2] if words[0] in GROUPS else words[:1]


CASES = [(page, words) for page in PAGES for words in documented_commands(page)]


def test_the_pages_show_commands() -> None:
    assert len(documented_commands(REPO / "README.md")) >= 6
    assert len(CASES) > 40


@pytest.mark.parametrize(
    ("page", "words"), CASES, ids=[f"{p.name}:{' '.join(w)[:50]}" for p, w in CASES]
)
def test_documented_command_and_options_exist(page: Path, words: list[str]) -> None:
    path = command_path(words)
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"{page.name}: `rnnbench {' '.join(path)}` is not a command"
    for option in (word.split("=")[0] for word in words if word.startswith("--")):
        assert option in result.output, f"{page.name}: `rnnbench {' '.join(path)}` has no {option}"


READ_ONLY = [
    words
    for words in documented_commands(REPO / "README.md")
    if words[0] == "compare" and words[1].startswith("results/") and "--plot" not in words
]


@pytest.mark.parametrize("words", READ_ONLY, ids=[" ".join(w) for w in READ_ONLY])
def test_readme_compare_commands_run(words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, words, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "piano-midi" in result.stdout

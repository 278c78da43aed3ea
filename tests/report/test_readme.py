"""The README's headline table is a copy of results/table2-batch1.md (which
test_committed_results.py regenerates from the committed records): the two never drift apart."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START, END = "<!-- table2-batch1:", "<!-- /table2-batch1 -->"


def test_readme_table_is_the_generated_table() -> None:
    readme = (REPO / "README.md").read_text()
    assert readme.count(START) == 1 and readme.count(END) == 1
    block = readme.split(START)[1].split("-->\n", 1)[1].split(END)[0]
    assert block == (REPO / "results" / "table2-batch1.md").read_text(), (
        "README.md's table differs from results/table2-batch1.md: copy it (results/tables.sh)"
    )


def test_readme_is_the_front_door() -> None:
    """Short, with the two set-up commands first, as .ci/run runs them."""
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) < 14_000
    first_block = readme.split("```bash\n")[1].split("```")[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ['pip install torch==2.13.0 -e ".[dev]"', "rnnbench reproduce --quick"]
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install torch==2.13.0 -e ".[dev]"' in ci and "\npytest\n" in ci

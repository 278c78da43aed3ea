"""The paper's Table 2 shipped as data, and its match with the dataset registry's names."""

from __future__ import annotations

import pytest

from rnnbench.data import builtin_specs
from rnnbench.report import paper_table

SPECS = builtin_specs()


def test_table_has_twelve_entries_with_a_source() -> None:
    table = paper_table()
    assert len(table.values) == 12
    assert "arXiv:1412.3555" in table.source and table.url.startswith("https://arxiv.org/")
    assert table.lookup("jsb", "gru") == (6.94, 8.54)
    assert table.lookup("piano-midi", "lstm") == (6.49, 9.03)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_builtin_dataset_and_alias_has_paper_values(name: str) -> None:
    table = paper_table()
    for spelling in (name, *SPECS[name].aliases):
        for cell in ("tanh", "gru", "lstm"):
            assert table.lookup(spelling, cell) is not None, spelling


def test_unknown_dataset_or_cell_has_no_paper_value() -> None:
    table = paper_table()
    assert table.lookup("jsb (first 64)", "gru") is None
    assert table.lookup("jsb", "mycell") is None

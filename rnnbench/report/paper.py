"""The paper's Table 2, shipped as data (paper_table2.yaml) with its source citation."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

PAPER_FILE = "paper_table2.yaml"


@dataclass(frozen=True)
class PaperTable:
    source: str
    url: str
    values: dict[tuple[str, str], tuple[float, float]]  # (dataset, cell) -> (nll_train, nll_test)
    aliases: dict[str, str]  # normalized spelling -> canonical dataset name

    def canonical_dataset(self, name: str) -> str | None:
        """The paper's name for a dataset spelled as a registry may spell it, or None."""
        return self.aliases.get(_normalize(name))

    def lookup(self, dataset: str, cell: str) -> tuple[float, float] | None:
        """(nll_train, nll_test) reported by the paper, or None where it has no such entry."""
        canonical = self.canonical_dataset(dataset)
        if canonical is None:
            return None
        return self.values.get((canonical, cell.lower()))


def _normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _registry_aliases(paper_names: set[str]) -> dict[str, str]:
    """Every spelling the dataset registry accepts for the paper's four datasets."""
    from rnnbench.data import builtin_specs

    return {
        _normalize(alias): name
        for name, spec in builtin_specs().items()
        if name in paper_names
        for alias in (name, *spec.aliases)
    }


@functools.cache
def paper_table() -> PaperTable:
    """Read the shipped Table 2 once."""
    text = resources.files("rnnbench.report").joinpath(PAPER_FILE).read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    values = {
        (row["dataset"], row["cell"]): (float(row["nll_train"]), float(row["nll_test"]))
        for row in data["rows"]
    }
    aliases = {
        _normalize(alias): canonical
        for canonical, entry in data["datasets"].items()
        for alias in [canonical, *entry["aliases"]]
    }
    aliases.update(_registry_aliases(set(data["datasets"])))
    return PaperTable(
        source=" ".join(data["source"].split()), url=data["url"], values=values, aliases=aliases
    )

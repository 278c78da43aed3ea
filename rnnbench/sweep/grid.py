"""Which base configs a sweep searches: one file, or a directory of `<dataset>-<cell>.yaml` files.

- CONFIG a directory (default `configs/paper`): `--datasets` x `--cells` pick
  `<dir>/<dataset>-<cell>.yaml` (default: the paper's 4 datasets x 3 cells); a missing file is an
  error naming it.
- CONFIG a file: without `--datasets/--cells` it is the single pair searched; with them, the file is
  the base for each combination, with `data.name` / `model.cell` overridden (e.g. a custom cell's
  config swept over several datasets).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import rnnbench
from rnnbench.errors import UsageError
from rnnbench.sweep.trials import BaseConfig

PAPER_DATASETS = ("jsb", "nottingham", "musedata", "piano-midi")
PAPER_CELLS = ("tanh", "gru", "lstm")


def paper_config_dir() -> Path:
    """`configs/paper` of the current directory, else of the rnnbench checkout."""
    local = Path("configs") / "paper"
    if local.is_dir():
        return local
    return Path(rnnbench.__file__).resolve().parents[1] / "configs" / "paper"


def split_names(values: Sequence[str] | None) -> list[str]:
    """`--datasets jsb,nottingham --datasets musedata` -> [jsb, nottingham, musedata]."""
    names: list[str] = []
    for value in values or ():
        for name in value.split(","):
            if name.strip() and name.strip() not in names:
                names.append(name.strip())
    return names


def expand_bases(
    config: Path | None, datasets: Sequence[str] | None, cells: Sequence[str] | None
) -> list[BaseConfig]:
    chosen_datasets, chosen_cells = split_names(datasets), split_names(cells)
    source = config if config is not None else paper_config_dir()
    if source.is_file():
        return _from_file(source, chosen_datasets, chosen_cells)
    if source.is_dir():
        return _from_directory(source, chosen_datasets, chosen_cells)
    raise UsageError(f"{source}: no such config file or directory")


def _from_file(path: Path, datasets: list[str], cells: list[str]) -> list[BaseConfig]:
    if not datasets and not cells:
        return [BaseConfig(path)]
    dataset_overrides: list[str | None] = [f"data.name={name}" for name in datasets] or [None]
    cell_overrides: list[str | None] = [f"model.cell={name}" for name in cells] or [None]
    return [
        BaseConfig(path, tuple(item for item in (data, cell) if item is not None))
        for data in dataset_overrides
        for cell in cell_overrides
    ]


def _from_directory(directory: Path, datasets: list[str], cells: list[str]) -> list[BaseConfig]:
    bases = []
    for dataset in datasets or PAPER_DATASETS:
        for cell in cells or PAPER_CELLS:
            path = directory / f"{dataset}-{cell}.yaml"
            if not path.is_file():
                raise UsageError(
                    f"{path}: no config for dataset '{dataset}' and cell '{cell}' "
                    f"(a config directory holds <dataset>-<cell>.yaml files)"
                )
            bases.append(BaseConfig(path))
    return bases

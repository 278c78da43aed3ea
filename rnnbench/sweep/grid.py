"""Which base configs a sweep searches: one file, or a directory of `<dataset>-<cell>.yaml` files.

- CONFIG a directory (default `configs/paper`): `--datasets` x `--cells` pick
  `<dir>/<dataset>-<cell>.yaml` (default: the paper's 4 datasets x 3 cells). A cell with no file
  in the directory at all (a plugin cell, docs/cells.md) runs under the dataset's protocol: the
  directory's file for the first registered cell that has one, with `model.cell` replaced and
  `model.hidden_size: auto`. Any other missing file is an error naming it.
- CONFIG a file: without `--datasets/--cells` it is the single pair searched; with them, the file is
  the base for each combination, with `data.name` / `model.cell` replaced (e.g. a custom cell's
  config swept over several datasets).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import rnnbench
from rnnbench.cells import CELLS, paper_cells
from rnnbench.config import AUTO
from rnnbench.errors import UsageError
from rnnbench.sweep.trials import BaseConfig

PAPER_DATASETS = ("jsb", "nottingham", "musedata", "piano-midi")


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
    dataset_settings: list[tuple[str, str] | None] = [("data.name", name) for name in datasets]
    cell_settings: list[tuple[str, str] | None] = [("model.cell", name) for name in cells]
    return [
        BaseConfig(path, tuple(item for item in (data, cell) if item is not None))
        for data in dataset_settings or [None]
        for cell in cell_settings or [None]
    ]


def _from_directory(directory: Path, datasets: list[str], cells: list[str]) -> list[BaseConfig]:
    return [base for _, _, base in directory_pairs(directory, datasets, cells)]


def directory_pairs(
    directory: Path, datasets: Sequence[str], cells: Sequence[str]
) -> list[tuple[str, str, BaseConfig]]:
    """(dataset, cell, base) for every pair (default: the paper's datasets and cells)."""
    files = {path.name for path in directory.glob("*.yaml")}
    return [
        (dataset, cell, _pair(directory, files, dataset, cell))
        for dataset in datasets or PAPER_DATASETS
        for cell in cells or paper_cells()
    ]


def _pair(directory: Path, files: set[str], dataset: str, cell: str) -> BaseConfig:
    own = f"{dataset}-{cell}.yaml"
    if own in files:
        return BaseConfig(directory / own)
    has_files = any(name.endswith(f"-{cell}.yaml") for name in files)
    template = next(
        (f"{dataset}-{other}.yaml" for other in CELLS if f"{dataset}-{other}.yaml" in files), None
    )
    if has_files or template is None:
        raise UsageError(
            f"{directory / own}: no config for dataset '{dataset}' and cell '{cell}' "
            f"(a config directory holds <dataset>-<cell>.yaml files)"
        )
    return BaseConfig(directory / template, (("model.cell", cell), ("model.hidden_size", AUTO)))

"""The cell registry: every fact the suite holds about a cell, in one entry per cell.

Built-in cells are the entries of CELLS, in display order (tables, plots, `bench`). A config may
also name a cell from outside the package (docs/cells.md): by import path, `mypkg.cells:MGU`, or
by a name an installed distribution registers in the `rnnbench.cells` entry-point group. Those
are resolved by `get_cell` on first use (rnnbench.models.plugins) and cached.

This module imports no torch: compare and the plots read display order and colours from it.
Adding a built-in cell = its reference kernel in rnnbench/models/reference.py plus one entry here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from rnnbench.errors import PluginError, UnknownNameError

# The paper's budget of recurrent parameters, for `model.hidden_size: auto` on a cell the paper
# did not train: the mean recurrent parameter count of its three cells at its sizes (tanh 100:
# 18,900; GRU 46: 18,630; peephole LSTM 36: 18,108; the paper's Table 1 rounds them to "about
# 20k"). No one budget gives all three sizes as the nearest (tanh would get 99, LSTM 37), so the
# paper's own cells keep the paper's sizes (`paper_hidden_size`).
PARAMETER_BUDGET = 18_546
ENTRY_POINT_GROUP = "rnnbench.cells"
DEFAULT_QUICK_LR = 1e-3


@dataclass(frozen=True)
class Plugin:
    """A cell from outside the package: how it was named, what was loaded, where it came from."""

    import_path: str  # module:attribute
    factory: Any  # the nn.Module class: factory(input_size, hidden_size) -> module
    entry_point: str | None  # the entry-point name it was found under, if any
    distribution: str | None  # the installed distribution that provides it, if any
    version: str | None  # that distribution's version
    source_file: str | None  # the file that defines the class
    source_sha256: str | None  # sha256 of that file's bytes

    def origin(self) -> dict[str, str | None]:
        """What the run record keeps (metrics.json `cell_origin`)."""
        return {
            "import_path": self.import_path,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "version": self.version,
            "source_file": self.source_file,
            "source_sha256": self.source_sha256,
        }


@dataclass(frozen=True)
class CellSpec:
    name: str
    # Paper variant: `module:function` of the per-step reference kernel (rnnbench.engine.Kernel,
    # parameters in the layout of docs/architecture.md); rnnbench.engine.KERNELS may hold a
    # faster one under the same name. None for a plugin cell (which is its own nn.Module).
    kernel: str | None = None
    gates: int = 1  # G: H-wide column blocks in weight_input / weight_recurrent / bias
    peephole: bool = False  # LSTM-style diagonal peepholes (rows i, f, o)
    fused: str | None = None  # torch.nn class of the fused variant (RNN, GRU, LSTM); None: none
    paper_hidden_size: int | None = (
        None  # the size the paper trained it at (None: not in the paper)
    )
    colour: str | None = None  # plot colour (None: one picked from the cell's name)
    quick_lr: float = DEFAULT_QUICK_LR  # `reproduce --quick`: a rate that trains it well
    plugin: Plugin | None = None  # set for a cell from outside the package


CELLS: dict[str, CellSpec] = {}


def register_cell(spec: CellSpec) -> None:
    """Add (or replace) a built-in cell; `model.cell: <name>` in a config then picks it."""
    CELLS[spec.name] = spec


for _spec in (
    CellSpec(
        "tanh",
        kernel="rnnbench.models.reference:tanh_kernel",
        gates=1,
        fused="RNN",
        paper_hidden_size=100,
        colour="#2ca02c",
        quick_lr=1e-3,
    ),
    CellSpec(
        "gru",
        kernel="rnnbench.models.reference:gru_kernel",
        gates=3,
        fused="GRU",
        paper_hidden_size=46,
        colour="#1f77b4",
        quick_lr=2e-3,
    ),
    CellSpec(
        "lstm",
        kernel="rnnbench.models.reference:lstm_kernel",
        gates=4,
        peephole=True,
        fused="LSTM",
        paper_hidden_size=36,
        colour="#d62728",
        quick_lr=2e-3,
    ),
):
    register_cell(_spec)


def paper_cells() -> list[str]:
    """The cells the paper trained, in display order: the default of sweeps, reproduce, bench."""
    return [name for name, spec in CELLS.items() if spec.paper_hidden_size is not None]


def is_import_path(name: str) -> bool:
    """`package.module:Class` names a cell by import path; anything else is a registered name."""
    return ":" in name


def get_cell(name: str) -> CellSpec:
    """A built-in cell, or a plugin cell loaded by import path or entry-point name (cached).

    Raises UnknownNameError, or PluginError (exit 2) for a plugin that cannot be used."""
    entry_point = entry_points().get(name)
    if name in CELLS:
        if entry_point is not None:
            raise PluginError(
                f"cell '{name}': the entry point '{name} = {entry_point.value}' "
                f"({_provider(entry_point)}, group {ENTRY_POINT_GROUP}) clashes with the built-in "
                "cell of that name; rename the entry point"
            )
        return CELLS[name]
    if entry_point is None and not is_import_path(name):
        raise UnknownNameError("cell", name, [*CELLS, *entry_points()])
    from rnnbench.models.plugins import load_plugin

    return load_plugin(name, entry_point)


_ENTRY_POINTS: dict[tuple[str, ...], dict[str, metadata.EntryPoint]] = {}


def entry_points() -> dict[str, metadata.EntryPoint]:
    """The `rnnbench.cells` entry points of the installed distributions, by name (read once per
    sys.path: scanning every distribution's metadata costs milliseconds per config)."""
    key = tuple(sys.path)
    if key not in _ENTRY_POINTS:
        found = metadata.entry_points(group=ENTRY_POINT_GROUP)
        _ENTRY_POINTS[key] = {entry.name: entry for entry in found}
    return _ENTRY_POINTS[key]


def _provider(entry_point: metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return f"distribution {dist.name} {dist.version}" if dist is not None else "no distribution"


def display_rank(name: str) -> tuple[int, str]:
    """Sort key: the built-in cells in registry order, then any other cell by name."""
    order = list(CELLS)
    return (order.index(name), "") if name in order else (len(order), name)


def cell_colour(name: str) -> str | None:
    """The registry's colour for a built-in cell; None for others (the plot picks one)."""
    spec = CELLS.get(name)
    return spec.colour if spec is not None else None


def auto_hidden_size(name: str, limit: int, input_size: int = 88) -> int:
    """`model.hidden_size: auto`: the paper's size for a cell the paper trained, else the size
    whose recurrent parameter count (paper variant) is nearest PARAMETER_BUDGET."""
    spec = get_cell(name)
    if spec.paper_hidden_size is not None:
        return spec.paper_hidden_size
    if spec.plugin is not None:
        from rnnbench.models.plugins import parameter_counter

        count = parameter_counter(spec, input_size)
    else:
        count = _kernel_cell_counter(spec, input_size)
    return nearest_size(count, PARAMETER_BUDGET, limit, name)


def _kernel_cell_counter(spec: CellSpec, input_size: int) -> Callable[[int], int]:
    def count(hidden: int) -> int:  # weight_input, weight_recurrent, bias, weight_peephole
        peepholes = 3 * hidden if spec.peephole else 0
        return spec.gates * (input_size * hidden + hidden * hidden + hidden) + peepholes

    return count


def nearest_size(count: Callable[[int], int], budget: int, limit: int, name: str) -> int:
    """The size in 1..limit whose count is nearest the budget (the smaller on a tie), for a count
    that grows with the size: doubling to pass the budget, then bisection (a few dozen builds)."""
    high = 1
    while count(high) < budget:
        if high >= limit:
            raise PluginError(
                f"cell '{name}': hidden_size auto: even {limit} units give fewer than "
                f"{budget:,} recurrent parameters; give model.hidden_size"
            )
        high = min(2 * high, limit)
    low = high // 2  # count(low) < budget <= count(high), or low == 0
    while high - low > 1:
        middle = (low + high) // 2
        if count(middle) < budget:
            low = middle
        else:
            high = middle
    if low >= 1 and budget - count(low) <= count(high) - budget:
        return low
    return high

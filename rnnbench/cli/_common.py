"""Helpers shared by the CLI modules: consoles and the domain-error-to-exit-code bridge."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from rnnbench.errors import RnnbenchError, UsageError

P = ParamSpec("P")
R = TypeVar("R")

# stdout carries results; stderr carries diagnostics, progress and errors.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def report_errors(func: Callable[P, R]) -> Callable[P, R]:
    """One 'error: ...' line on stderr and the error's exit code (1; 2 for usage)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RnnbenchError as exc:
            err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # a path the library did not anticipate: still one line, exit 1
            where = f"{exc.filename}: " if exc.filename else ""
            message = f"{where}{exc.strerror or exc}"
            err.print(Text.assemble(("error: ", "bold red"), message), highlight=False)
            raise typer.Exit(1) from None

    return wrapper


MAX_TEMPO = 1000.0  # beats per minute; MIDI's tempo field holds down to ~3.6 bpm, up to 60M


def check_tempo(option: str, tempo: float) -> float:
    """A finite tempo in [1, MAX_TEMPO] bpm (NaN slips past a plain range check)."""
    if not (math.isfinite(tempo) and 1.0 <= tempo <= MAX_TEMPO):
        raise UsageError(
            f"{option} must be between 1 and {MAX_TEMPO:.0f} beats per minute, got {tempo}"
        )
    return tempo


def check_directory(option: str, path: Path | None) -> None:
    """A directory option that names an existing file is a usage error (not 'File exists')."""
    if path is not None and path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file, expected a directory")


def print_table(table: Table, console: Console = out) -> None:
    """Every CLI table, drawn whole: no cell is cut short with '…' (whole_numbers). A terminal
    gets the table fitted to its width where it can be (text and headers wrap); a table that
    cannot fit without cutting a number, a pipe or a file gets it at its natural width, however
    wide, rather than cropped or squashed into 80 columns."""
    whole_numbers(table, console)
    if console.is_terminal and _fit_widths(table, console, console.width):
        console.print(table, soft_wrap=False)  # the title and caption wrap to the table
        return
    natural = console.measure(table, options=console.options.update(max_width=10_000)).maximum
    wide = Console(file=console.file, width=max(natural, console.width), soft_wrap=True)
    wide.print(table)


def whole_numbers(table: Table, console: Console) -> Table:
    """Set a table's columns so that no cell is cut short; returns it. A right-aligned (number)
    column never wraps its cells and is never narrower than its widest one (its header may wrap
    at spaces); text wraps, and a word longer than its column folds rather than ends in '…'."""
    for column in table.columns:
        column.overflow = "fold"
        if column.justify != "right":
            continue
        header = column.header if isinstance(column.header, Text) else Text(str(column.header))
        header.no_wrap, header.overflow = False, "fold"
        column.header, column.no_wrap = header, True
        widest = max([0, *(_width(console, cell).maximum for cell in column.cells)])
        column.min_width = max(widest, _width(console, header).minimum)
    return table


def _width(console: Console, renderable: RenderableType) -> Measurement:
    return Measurement.get(console, console.options.update(max_width=10_000), renderable)


TEXT_MINIMUM = 12  # a text column is not drawn narrower; a longer word folds onto the next line


def narrowest_width(table: Table, console: Console) -> int:
    """The table's width with every column at its narrowest (numbers whole, text wrapped and
    folded down to TEXT_MINIMUM); call whole_numbers first."""
    natural = [_column_width(console, column) for column in table.columns]
    overhead = _width(console, table).maximum - sum(high for _, high in natural)
    return overhead + sum(low for low, _ in natural)


def _fit_widths(table: Table, console: Console, width: int) -> bool:
    """Whether the table fits `width` with every column at least at its narrowest; where it fits
    only narrower than its natural width, fix each column's width: the narrowest, plus what is
    left, to the columns that need least first (rich's own squeezing may take a text column
    down to nothing)."""
    natural = [(column, *_column_width(console, column)) for column in table.columns]
    room = width - narrowest_width(table, console)
    if room < 0:
        return False
    if room >= sum(high - low for _, low, high in natural):
        return True
    for column, low, high in sorted(natural, key=lambda entry: entry[2] - entry[1]):
        column.width = low + min(room, high - low)
        room -= column.width - low
    return True


def _column_width(console: Console, column: Column) -> tuple[int, int]:
    """A column's narrowest and natural width (content only)."""
    cells = [_width(console, cell) for cell in (column.header, *column.cells)]
    high = max(column.min_width or 1, *(cell.maximum for cell in cells))
    if column.no_wrap:
        return column.min_width or high, high
    longest_word = max(cell.minimum for cell in cells)
    return min(high, longest_word, max(TEXT_MINIMUM, column.min_width or 1)), high

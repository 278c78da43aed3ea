"""Helpers shared by the CLI modules: consoles and the domain-error-to-exit-code bridge."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
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

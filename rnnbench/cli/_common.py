"""Helpers shared by the CLI modules: consoles and the domain-error-to-exit-code bridge."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from rnnbench.errors import RnnbenchError

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

    return wrapper

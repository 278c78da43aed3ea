"""Domain errors. Library code raises these; only the CLI prints them and picks the exit code.

Every message is one line that names the file, field or dataset at fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RnnbenchError(Exception):
    """A failure the user can act on (exit 1)."""

    exit_code = 1


class UsageError(RnnbenchError):
    """Bad command-line usage, config or name (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """An invalid config file or override."""


class UnknownNameError(UsageError):
    """An unknown dataset, cell or variant name; suggests the closest known one."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(known)}"
        super().__init__(f"unknown {kind} '{name}'{hint}")
        self.name = name


class OutputError(RnnbenchError):
    """A result, record or output file that cannot be written (the path is named)."""


class DataError(RnnbenchError):
    """A dataset could not be downloaded, verified or decoded."""


class TrainingError(RnnbenchError):
    """Training could not start or continue."""

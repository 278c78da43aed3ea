"""Domain errors. Library code raises these; only the CLI prints them and picks the exit code.

Every message is one line that names the file, field or dataset at fault.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterable, Iterator


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


class ResourceError(RnnbenchError):
    """The machine has too little memory for the sizes asked for."""


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's RuntimeError (OutOfMemoryError included) for a failed allocation."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        phrase in text.lower()
        for phrase in ("can't allocate memory", "out of memory", "size calculation overflowed")
    )


def _allocation(exc: BaseException) -> str:
    """'tried to allocate 98.3 GiB' from torch's CPU or CUDA message, else a generic phrase."""
    cpu = re.search(r"allocate (\d+) bytes", str(exc))
    if cpu:
        return f"tried to allocate {int(cpu.group(1)) / 2**30:.1f} GiB"
    cuda = re.search(r"[Tt]ried to allocate ([\d.]+ [KMGT]?i?B)", str(exc))
    if cuda:
        return f"tried to allocate {cuda.group(1)}"
    return "the size overflows" if "overflowed" in str(exc) else "an allocation failed"


@contextlib.contextmanager
def out_of_memory_as_error(what: str) -> Iterator[None]:
    """Turn a failed allocation inside the block into one ResourceError line: 'out of memory:
    {what} (tried to allocate N GiB)'. Any other error passes through unchanged."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        raise ResourceError(f"out of memory: {what} ({_allocation(exc)})") from None


class PluginError(UsageError):
    """A cell from outside the package that cannot be used: it does not import, is not an
    nn.Module class, fails the check batch, or its entry-point name clashes (exit 2)."""

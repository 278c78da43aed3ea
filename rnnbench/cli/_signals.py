"""Interrupts the long-running commands handle themselves, however the process was started."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupts_raise(*, sigterm: bool = False) -> Iterator[None]:
    """Within the block SIGINT raises KeyboardInterrupt (and, with `sigterm`, so does SIGTERM),
    then the previous handlers come back. A process started in the background by a
    non-interactive shell inherits SIGINT ignored, and Python then never raises it: without this,
    a user's `kill -INT` or a test's SIGINT would do nothing there."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and only it receives signals)
        return
    handlers: dict[int, Any] = {signal.SIGINT: signal.default_int_handler}
    if sigterm:
        handlers[signal.SIGTERM] = _interrupt
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)

"""Data-area fixtures: a loopback HTTP mirror (with a truncating path), any folder served over
loopback HTTP, and a dead address."""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TRUNCATED_PREFIX = "/truncated/"  # served with the full Content-Length but only half the body


class MirrorHandler(SimpleHTTPRequestHandler):
    """Serves a folder; under /truncated/ it announces the full size and sends half, then closes."""

    def do_GET(self) -> None:
        if isinstance(self.server, RecordingServer):
            self.server.requested.append(self.path)
        if not self.path.startswith(TRUNCATED_PREFIX):
            super().do_GET()
            return
        self.path = "/" + self.path[len(TRUNCATED_PREFIX) :]
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class RecordingServer(ThreadingHTTPServer):
    """Keeps the path of every GET it answered, in order."""

    requested: list[str]


@contextlib.contextmanager
def _serving(folder: Path) -> Iterator[RecordingServer]:
    """`folder` served over HTTP on 127.0.0.1 (a free port) while the block runs."""
    handler = functools.partial(MirrorHandler, directory=str(folder))
    server = RecordingServer(("127.0.0.1", 0), handler)
    server.requested = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _url(server: RecordingServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="session")
def mirror_url(mirror_dir: Path) -> Iterator[str]:
    """The mirror served over HTTP on 127.0.0.1 (a free port), for the whole session."""
    with _serving(mirror_dir) as server:
        yield _url(server)


@pytest.fixture
def serve_folder() -> Iterator[Callable[[Path], tuple[str, list[str]]]]:
    """serve_folder(folder) -> (base URL, the paths requested so far), for one test."""
    with contextlib.ExitStack() as stack:

        def serve(folder: Path) -> tuple[str, list[str]]:
            server = stack.enter_context(_serving(folder))
            return _url(server), server.requested

        yield serve


@pytest.fixture(scope="session")
def truncating_url(mirror_url: str) -> str:
    """A base URL on the same server whose every file is cut in half (full Content-Length sent)."""
    return mirror_url + TRUNCATED_PREFIX.rstrip("/")


@pytest.fixture
def dead_url() -> str:
    """An address where nothing listens (a port just bound and released): connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

"""Data-area fixtures: a loopback HTTP mirror (with a truncating path) and a dead address."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TRUNCATED_PREFIX = "/truncated/"  # served with the full Content-Length but only half the body


class MirrorHandler(SimpleHTTPRequestHandler):
    """Serves a folder; under /truncated/ it announces the full size and sends half, then closes."""

    def do_GET(self) -> None:
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


@pytest.fixture(scope="session")
def mirror_url(mirror_dir: Path) -> Iterator[str]:
    """The mirror served over HTTP on 127.0.0.1 (a free port), for the whole session."""
    handler = functools.partial(MirrorHandler, directory=str(mirror_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


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

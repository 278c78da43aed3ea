"""An unreachable --ray-address fails in seconds with one line (Ray itself waits ~14 minutes)."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

JSB_GRU = str(REPO_ROOT / "configs" / "paper" / "jsb-gru.yaml")


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def sweep(
    address: str, results: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`rnnbench sweep --executor ray --ray-address ADDRESS` in a fresh process; and its seconds."""
    command = [sys.executable, "-m", "rnnbench", "sweep", JSB_GRU, "--trials", "1", *extra]
    command += ["--executor", "ray", "--ray-address", address, "--results-dir", str(results)]
    started = time.monotonic()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    return finished, time.monotonic() - started


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1:{port}", "Connection refused"),
        ("ray://127.0.0.1:{port}", "Connection refused"),
        ("notahost.invalid:1", "unknown host 'notahost.invalid'"),
    ],
)
def test_an_unreachable_ray_address_is_one_line_exit_1_within_seconds(
    tmp_path: Path, address: str, reason: str
) -> None:
    pytest.importorskip("ray")
    address = address.format(port=closed_port())
    finished, elapsed = sweep(address, tmp_path / "results")
    assert finished.returncode == 1, finished.stderr
    (line,) = [line for line in finished.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: cannot reach the Ray cluster at {address}: ")
    assert reason in line
    assert elapsed < 30, elapsed
    assert not (tmp_path / "results").exists()


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload."""
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


class _Answers404(socketserver.StreamRequestHandler):
    """A minimal HTTP/2 server answering every request '404' (HPACK static entry 13): what a
    proxy or an ingress in front of the wrong port says to Ray's gRPC client."""

    def handle(self) -> None:
        if self.rfile.read(len(H2_PREFACE)) != H2_PREFACE:
            return
        self.wfile.write(h2_frame(4, 0, 0))  # SETTINGS
        while len(head := self.rfile.read(9)) == 9:
            kind, flags, stream = head[3], head[4], int.from_bytes(head[5:], "big") & 0x7FFFFFFF
            payload = self.rfile.read(int.from_bytes(head[:3], "big"))
            if kind == 4 and not flags & 1:  # SETTINGS: acknowledge
                self.wfile.write(h2_frame(4, 1, 0))
            elif kind == 6 and not flags & 1:  # PING: answer
                self.wfile.write(h2_frame(6, 1, 0, payload))
            elif kind == 1:  # HEADERS: ':status 404', end of stream and of headers
                self.wfile.write(h2_frame(1, 0x5, stream, b"\x8d"))


@contextlib.contextmanager
def not_ray() -> Iterator[str]:
    """host:port of an HTTP/2 server that is not Ray. It listens on every interface: Ray
    replaces a loopback address by the node's own IP."""
    server = socketserver.ThreadingTCPServer(("0.0.0.0", 0), _Answers404)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.mirror
def test_an_address_that_answers_but_not_as_ray_is_one_error_line(
    data_dir_all: Path, tmp_path: Path
) -> None:
    """The probe passes; ray.init gives up after its (shortened) retries, and the warning its C++
    client writes per retry stays off the terminal."""
    pytest.importorskip("ray")
    with not_ray() as address:
        finished, elapsed = sweep(
            address, tmp_path / "results", "--set", f"data.data_dir={data_dir_all}"
        )
    assert finished.returncode == 1, finished.stderr
    lines = [line for line in finished.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: cannot join the Ray cluster at {address} (")
    assert len(lines) == 2 and lines[0].startswith("1 trials over 1 (dataset, cell) pair(s)")
    assert elapsed < 60, elapsed  # torch and ray imported, 5 s of retries: ~25 s on 2 busy cores


def test_a_malformed_ray_address_is_a_usage_error() -> None:
    from rnnbench.errors import UsageError
    from rnnbench.sweep.ray_executor import host_and_port

    with pytest.raises(UsageError, match="invalid --ray-address 'head:port'"):
        host_and_port("head:port")
    assert host_and_port("auto") is None
    assert host_and_port("[::1]:6379") == ("::1", 6379)
    assert host_and_port("ray://head.example:10001") == ("head.example", 10001)

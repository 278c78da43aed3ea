"""The Ray executor: the same trials and run directories, scheduled by Ray.

With `address`, it joins an existing cluster (rnnbench must be installed on its nodes and the
results directory must be on a filesystem they share). Without, it starts a local Ray for the run
with `num_cpus` = the cores available, no dashboard, and shuts it down afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.sweep.executors import TICK_S, TaskSink, available_cores, failed_outcome
from rnnbench.sweep.worker import TrialOutcome, TrialTask, run_trial

FORWARDED_ENV = ("RNNBENCH_DATA_DIR", "RNNBENCH_MIRROR")
WORKER_NICENESS_ENV = "RAY_worker_niceness"  # read by the raylet when it starts
PROBE_TIMEOUT_S = 5.0  # each of the name lookup and the TCP connect; Ray's own wait is ~14 min
# Seconds ray.init retries a GCS that accepts connections but does not answer as Ray (Ray: 20).
JOIN_WAIT_ENV, JOIN_WAIT_S = "RAY_gcs_server_port_wait_time_s", "5"


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise UsageError(
            "the ray executor needs Ray: pip install 'rnnbench[ray]' (or use --executor local)"
        ) from exc
    return ray


def host_and_port(address: str) -> tuple[str, int] | None:
    """The (host, port) a cluster address names ('host:port', 'ray://host:port', '[v6]:port');
    None for addresses Ray resolves itself ('auto', 'local', no port)."""
    text = address.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    try:
        parts = urlsplit(f"//{text}")
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid --ray-address '{address}': {exc}") from None
    if parts.hostname is None or port is None:
        return None
    return parts.hostname, port


def check_reachable(address: str) -> None:
    """Fail in seconds where `ray.init` waits about 14 minutes: the host must resolve and accept
    a TCP connection on the port, each within PROBE_TIMEOUT_S."""
    target = host_and_port(address)
    if target is None:
        return
    host, port = target
    where = f"cannot reach the Ray cluster at {address}"
    failure = _lookup_failure(host, port)
    if failure:
        raise RnnbenchError(f"{where}: {failure}")
    try:
        socket.create_connection(target, timeout=PROBE_TIMEOUT_S).close()
    except TimeoutError:
        raise RnnbenchError(f"{where}: no answer within {PROBE_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise RnnbenchError(f"{where}: {exc.strerror or exc}") from None


def _lookup_failure(host: str, port: int) -> str | None:
    """Why `host` does not resolve, or None when it does. getaddrinfo has no timeout: it runs in
    a daemon thread that is left behind if it takes too long."""
    outcome: list[str | None] = []

    def look_up() -> None:
        try:
            socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            outcome.append(f"unknown host '{host}' ({exc.strerror or exc})")
        else:
            outcome.append(None)

    thread = threading.Thread(target=look_up, daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT_S)
    if not outcome:
        return f"looking up '{host}' took over {PROBE_TIMEOUT_S:.0f} s"
    return outcome[0]


def _join(ray: Any, address: str, options: dict[str, Any]) -> None:
    """ray.init on an existing cluster, its failure as one line. Ray's C++ client logs a warning
    line per retry on the file descriptor 2 itself: those go to a temporary file, kept out of the
    terminal (and the one-line error)."""
    os.environ.setdefault(JOIN_WAIT_ENV, JOIN_WAIT_S)
    with tempfile.TemporaryFile() as log, _stderr_to(log.fileno()):
        try:
            ray.init(address=address, ignore_reinit_error=True, **options)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            raise RnnbenchError(
                f"cannot join the Ray cluster at {address} ({type(exc).__name__}: {first})"
            ) from None


@contextlib.contextmanager
def _stderr_to(descriptor: int) -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(descriptor, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        if address:
            check_reachable(address)
        self.ray = import_ray()
        self.address = address
        self.requested_workers = workers
        self.slots = 0
        self.threads = 1
        self.started_here = False

    def __enter__(self) -> RayExecutor:
        ray = self.ray
        self.started_here = not ray.is_initialized()
        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        options: dict[str, Any] = {
            "runtime_env": {"env_vars": env},
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if self.address:
            _join(ray, self.address, options)
        else:
            # Ray starts workers at niceness 15 by default: on a busy machine, trials then crawl
            # behind every other process. A local Ray for this sweep runs them at normal priority.
            os.environ.setdefault(WORKER_NICENESS_ENV, "0")
            ray.init(
                num_cpus=available_cores(),
                include_dashboard=False,
                ignore_reinit_error=True,
                **options,
            )
        try:
            self._size(int(ray.cluster_resources().get("CPU", 1)))
        except BaseException:
            self.__exit__()
            raise
        return self

    def _size(self, cluster_cpus: int) -> None:
        workers = self.requested_workers or cluster_cpus
        if workers < 1 or workers > cluster_cpus:
            raise UsageError(
                f"--workers {workers} does not fit the Ray cluster's {cluster_cpus} CPUs"
            )
        self.slots, self.threads = workers, max(1, cluster_cpus // workers)

    def __exit__(self, *exc: object) -> None:
        if self.started_here:
            self.ray.shutdown()

    def run(self, tasks: Sequence[TrialTask], sink: TaskSink) -> None:
        ray = self.ray
        remote = ray.remote(num_cpus=self.threads, max_retries=0)(run_trial)
        queue = deque(tasks)
        running: dict[Any, TrialTask] = {}
        try:
            while queue or running:
                while queue and len(running) < self.slots:
                    task = queue.popleft()
                    running[remote.remote(task)] = task
                    sink.started(task)
                done, _ = ray.wait(list(running), num_returns=1, timeout=TICK_S)
                for ref in done:
                    sink.finished(self._outcome(ref, running.pop(ref)))
                sink.tick()
        except BaseException:
            for ref in running:
                ray.cancel(ref, force=True)
            raise

    def _outcome(self, ref: Any, task: TrialTask) -> TrialOutcome:
        try:
            outcome: TrialOutcome = self.ray.get(ref)
        except Exception as exc:  # the task's process died, or Ray failed to run it
            first = " ".join(str(exc).split())[:200]
            return failed_outcome(task, f"{type(exc).__name__}: {first}")
        return outcome

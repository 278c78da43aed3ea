"""`fetch`: download one built-in dataset with ordered fallback, verify it, decode once, cache it.

Candidates, in order: each mirror (a folder or base URL holding the public file names), then the
registry's public addresses (unless offline). A candidate fails on an unreachable host, an HTTP
error, a truncated body, a sha256 mismatch, a decoding error, unexpected split sizes or a content
digest mismatch; the next one is tried. After the last, one DataError names each attempt once, with
its reason, and says what to do instead (--mirror DIR, --offline).

One download per data directory at a time (an flock on the directory): a second process waits,
then finds the cache the first one wrote. `fetch_missing` is what `train`, `sweep` and `reproduce`
call before they start: it downloads a built-in dataset only when its cache is absent.

A pickle is decoded only after its bytes match a published sha256: a pickle source without one is
refused before it is downloaded (never unpickle a file whose bytes are not pinned).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlsplit

from rnnbench import __version__
from rnnbench.data.cache import write_cache
from rnnbench.data.dataset import Dataset
from rnnbench.data.decoders import DECODERS, Splits
from rnnbench.data.digest import digest_splits
from rnnbench.data.registry import SPLITS, DatasetSpec, Source
from rnnbench.data.store import check_cache, resolve
from rnnbench.errors import DataError, UsageError

MIRROR_ENV = "RNNBENCH_MIRROR"
OFFLINE_ENV = "RNNBENCH_OFFLINE"
TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 16
MAX_BYTES = 512 << 20  # no dataset source is near this; protects the disk from a runaway response

Mirror = str | os.PathLike[str]


@dataclass(frozen=True)
class FetchEvent:
    """Progress of one candidate: start (total may be None), progress, failed (message), done
    (message: the cache file written)."""

    kind: Literal["start", "progress", "failed", "done"]
    dataset: str
    location: str
    done: int = 0
    total: int | None = None
    message: str = ""


ProgressCallback = Callable[[FetchEvent], None]


@dataclass(frozen=True)
class Candidate:
    location: str  # a URL or a local path
    source: Source


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme in {"http", "https", "file"}


def _mirror_location(mirror: Mirror, file_name: str) -> str:
    text = os.fspath(mirror)
    if _is_url(text):
        return f"{text.rstrip('/')}/{quote(file_name)}"
    return str(Path(text) / file_name)


def _mirrors(mirror: Mirror | Sequence[Mirror] | None) -> list[Mirror]:
    """The mirrors to try; a malformed URL among them is a UsageError naming it."""
    if mirror is None:
        env = os.environ.get(MIRROR_ENV)
        mirrors: list[Mirror] = [env] if env else []
    elif isinstance(mirror, str | os.PathLike):
        mirrors = [mirror]
    else:
        mirrors = list(mirror)
    for item in mirrors:
        _check_mirror(os.fspath(item))
    return mirrors


def _check_mirror(text: str) -> None:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError as exc:
        raise UsageError(f"invalid mirror '{text}': {exc}") from None
    if parts.scheme in {"http", "https"} and not parts.netloc:
        raise UsageError(f"invalid mirror '{text}': no host")


def candidates(spec: DatasetSpec, mirrors: Sequence[Mirror], offline: bool) -> list[Candidate]:
    """Mirrors first (each source's file name), then the public addresses; duplicates dropped."""
    found: list[Candidate] = []
    for mirror in mirrors:
        found += [Candidate(_mirror_location(mirror, s.file_name), s) for s in spec.sources]
    if not offline:
        found += [Candidate(source.url, source) for source in spec.sources]
    unique: dict[str, Candidate] = {}
    for candidate in found:
        unique.setdefault(candidate.location, candidate)
    return list(unique.values())


def _open(location: str) -> tuple[IO[bytes], int | None]:
    """An open byte stream and its announced size (None when unknown)."""
    if not _is_url(location):
        path = Path(location)
        return path.open("rb"), path.stat().st_size
    request = urllib.request.Request(location, headers={"User-Agent": f"rnnbench/{__version__}"})
    response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    length = response.headers.get("Content-Length")
    return response, int(length) if length and length.isdigit() else None


def download(location: str, target: Path, report: Callable[[int, int | None], None]) -> str:
    """Copy `location` into `target`; the bytes' sha256. Raises on a short or oversized body."""
    hasher = hashlib.sha256()
    done = 0
    stream, total = _open(location)
    with stream, target.open("wb") as handle:
        report(0, total)
        while chunk := stream.read(CHUNK_BYTES):
            done += len(chunk)
            if done > MAX_BYTES:
                raise DataError(f"larger than {MAX_BYTES >> 20} MiB, refused")
            hasher.update(chunk)
            handle.write(chunk)
            report(done, total)
    if total is not None and done != total:
        raise DataError(f"truncated: received {done:,} of {total:,} bytes")
    return hasher.hexdigest()


def decode_and_check(spec: DatasetSpec, path: Path, file_format: str) -> Dataset:
    """Decode a downloaded file; check split sizes and the content digest against the registry."""
    splits: Splits = DECODERS[file_format](path)
    for split in SPLITS:
        expected = spec.splits[split]
        sequences, frames = len(splits[split]), sum(len(r) for r in splits[split])
        if (sequences, frames) != (expected.sequences, expected.frames):
            raise DataError(
                f"{path.name}: split '{split}' has {sequences} sequences / {frames} frames, "
                f"expected {expected.sequences} / {expected.frames}"
            )
    digest = digest_splits(splits)
    if digest != spec.digest:
        raise DataError(f"{path.name}: content digest {digest[:19]}… differs from the registry")
    return Dataset(spec.name, splits, digest=digest, steps_per_beat=spec.steps_per_beat)


def _attempt(
    spec: DatasetSpec, candidate: Candidate, work_dir: Path, notify: ProgressCallback
) -> Dataset:
    target = work_dir / candidate.source.file_name

    def report(done: int, total: int | None) -> None:
        kind: Literal["start", "progress"] = "start" if done == 0 else "progress"
        notify(FetchEvent(kind, spec.name, candidate.location, done, total))

    expected = candidate.source.sha256
    if candidate.source.format == "pickle" and expected is None:
        raise DataError(
            "refused: a pickle without a published sha256 is never decoded (not downloaded)"
        )
    sha256 = download(candidate.location, target, report)
    if expected is not None and sha256 != expected:
        raise DataError(f"sha256 mismatch: got {sha256[:12]}…, expected {expected[:12]}…")
    return decode_and_check(spec, target, candidate.source.format)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, URLError):
        cause = exc.reason
        text = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
        return f"unreachable ({text})"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, DataError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def fetch(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    mirror: Mirror | Sequence[Mirror] | None = None,
    *,
    offline: bool | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Download, verify and cache the built-in dataset `name`; the cache file's path.

    `mirror`: a folder or base URL (or several, tried in order); None means $RNNBENCH_MIRROR.
    `offline`: skip the public addresses (None means $RNNBENCH_OFFLINE is set and not "0").
    An existing cache that passes the full check (`check_cache`: readable, content digest equal
    to the registry's) is kept unless `force`; an unreadable or corrupt one is fetched again.
    """
    mirrors = _mirrors(mirror)  # a malformed mirror is a usage error, even with a valid cache
    entry = resolve(name, data_dir)
    if entry.spec is None:
        raise UsageError(
            f"dataset '{entry.name}' was imported from MIDI; it has no download sources"
        )
    spec = entry.spec
    if not force and entry.is_cached and _cache_is_valid(spec.name, entry.data_dir):
        return entry.cache
    offline_by_env = offline is None
    if offline is None:
        offline = os.environ.get(OFFLINE_ENV, "0") not in {"", "0"}
    todo = candidates(spec, mirrors, offline)
    if not todo:
        setting = f"{OFFLINE_ENV} is set" if offline_by_env else "--offline"
        undo = f"unset {OFFLINE_ENV}" if offline_by_env else "drop --offline"
        raise DataError(
            f"dataset '{spec.name}' is not in {entry.data_dir}, and offline ({setting}) with no "
            f"mirror there is nowhere to fetch it from: use --mirror DIR (a folder holding the "
            f"files) or {MIRROR_ENV}, or {undo}"
        )
    entry.data_dir.mkdir(parents=True, exist_ok=True)
    with _one_download_at_a_time(entry.data_dir):
        if not force and entry.is_cached and _cache_is_valid(spec.name, entry.data_dir):
            return entry.cache  # another process fetched it while this one waited
        _download_first_valid(spec, todo, entry.cache, progress or (lambda event: None), offline)
    return entry.cache


def fetch_missing(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    mirror: Mirror | Sequence[Mirror] | None = None,
    *,
    offline: bool | None = None,
    progress: ProgressCallback | None = None,
) -> Path | None:
    """`fetch` a built-in dataset whose cache is absent; the cache path, or None when there was
    nothing to fetch: the cache exists (`load` checks it) or the dataset is imported (`load`
    says how to re-import it)."""
    _mirrors(mirror)  # a malformed mirror is a usage error whether or not it is needed
    entry = resolve(name, data_dir)
    if entry.spec is None or entry.is_cached:
        return None
    return fetch(entry.name, data_dir, mirror, offline=offline, progress=progress)


def _download_first_valid(
    spec: DatasetSpec,
    todo: Sequence[Candidate],
    cache: Path,
    notify: ProgressCallback,
    offline: bool,
) -> None:
    """Try each candidate in order; write the first valid one to `cache`, else raise."""
    tried: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache.parent) as work:
        for candidate in todo:
            started = time.perf_counter()
            try:
                dataset = _attempt(spec, candidate, Path(work), notify)
            except (DataError, OSError, http.client.HTTPException, ValueError) as exc:
                tried.append(f"{candidate.location}: {_reason(exc)}")
                notify(FetchEvent("failed", spec.name, candidate.location, message=_reason(exc)))
                continue
            provenance = {
                "source": candidate.location,
                "seconds": round(time.perf_counter() - started, 3),
            }
            write_cache(cache, dataset, provenance)
            notify(FetchEvent("done", spec.name, candidate.location, message=str(cache)))
            return
    sources = f"{len(tried)} source{'s' if len(tried) > 1 else ''}"
    raise DataError(
        f"could not fetch '{spec.name}', {sources} tried: "
        + "; ".join(tried)
        + f"; {_what_next(offline)}"
    )


def _what_next(offline: bool) -> str:
    if offline:
        return (
            "offline, only the mirrors were tried: use --mirror DIR with a folder holding the "
            f"files, or drop --offline / {OFFLINE_ENV}"
        )
    return (
        "without network access, put the files in a folder and use --mirror DIR "
        "(with --offline to skip the public addresses)"
    )


@contextlib.contextmanager
def _one_download_at_a_time(data_dir: Path) -> Iterator[None]:
    """An flock on the data directory itself (no lock file is left behind; the kernel releases it
    when its holder dies): processes that need the same dataset fetch it once, not each."""
    descriptor = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _cache_is_valid(name: str, data_dir: Path) -> bool:
    """Whether the existing cache passes every check `load` makes (else it is fetched again)."""
    try:
        check_cache(name, data_dir)
    except DataError:
        return False
    return True

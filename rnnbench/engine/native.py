"""Optional compiled CPU loops (C++ via `torch.utils.cpp_extension.load_inline`).

The first use with a torch install compiles `csrc/*.cpp` (about 20 s on an idle core) into torch's
extension cache (`$TORCH_EXTENSIONS_DIR`, default `~/.cache/torch_extensions`); later uses load
the cached build in well under a second. Each torch install has its own build directory (see
`build_name`), so virtual environments sharing the cache do not rebuild each other's. Training
builds it before its clock starts; `build_listener` lets the CLI say so while it happens.
`RNNBENCH_NATIVE=0` disables the compiled path; if the compiler is missing or the build fails, the
kernels warn once and use their pure-torch loops.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

import torch

SOURCES = ("common.cpp", "gru.cpp", "lstm.cpp", "tanh.cpp")
FUNCTIONS = (
    "gru_forward",
    "gru_backward",
    "lstm_forward",
    "lstm_backward",
    "tanh_forward",
    "tanh_backward",
)
# -ffast-math without -ffinite-math-only: reassociation (vectorized dot products) but NaN/inf keep
# their IEEE meaning, so a diverging run still shows NaN losses.
FLAGS = (
    "-O3",
    "-march=native",
    "-mprefer-vector-width=512",
    "-ffast-math",
    "-fno-finite-math-only",
)
# The build on an idle core (g++ 12), for the message shown meanwhile. Busy cores take minutes:
# 310 s at nice 10 beside a 2-worker sweep on 2 cores.
TYPICAL_BUILD_S = 20.0
_state: dict[str, ModuleType | None] = {}


@dataclass(frozen=True)
class BuildEvent:
    """A compile of the engine starts, or is done (`seconds` it took)."""

    stage: Literal["start", "done"]
    torch_version: str
    directory: Path
    seconds: float = 0.0
    typical_s: float = TYPICAL_BUILD_S


BuildListener = Callable[[BuildEvent], None]
_listeners: list[BuildListener] = []


@contextmanager
def build_listener(listener: BuildListener) -> Iterator[None]:
    """Within the block, `listener` hears of every compile (not of loading a cached build)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _announce(event: BuildEvent) -> None:
    for listener in list(_listeners):
        listener(event)


def enabled() -> bool:
    """Whether the compiled path may be used (`RNNBENCH_NATIVE` is not 0/false/no)."""
    return os.environ.get("RNNBENCH_NATIVE", "1").strip().lower() not in {"0", "false", "no", "off"}


def _machine_text() -> str:
    """The CPU's model and flags: builds use -march=native, so a shared cache never mixes CPUs."""
    cpu = platform.processor() + platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        cpu += "".join(line for line in lines if line.startswith(("model name", "flags")))[:4000]
    return cpu


def build_name(
    *, torch_version: str, torch_dir: str, python: str, compiler: str, machine: str
) -> str:
    """The extension's name, which is its build directory's: the torch and python versions in
    words, then a hash of everything that makes a build unusable elsewhere or makes ninja redo
    it. That includes the torch install's path: its headers' path is on the compile line, so two
    virtual environments sharing one name would each rebuild over the other's build."""
    key = "\n".join((torch_version, torch_dir, python, compiler, machine, *FLAGS))
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    version = re.sub(r"\W", "_", torch_version)
    return f"rnnbench_engine_torch{version}_{python}_{digest}"


def current_build_name() -> str:
    """`build_name` for this process: its torch, python, compiler ($CXX) and CPU."""
    abi = getattr(sys, "abiflags", "")  # POSIX only
    return build_name(
        torch_version=torch.__version__,
        torch_dir=str(Path(torch.__file__).resolve().parent),
        python=f"py{sys.version_info.major}{sys.version_info.minor}{abi}",
        compiler=os.environ.get("CXX", "c++"),
        machine=_machine_text(),
    )


def _build_directory(name: str) -> Path:
    from torch.utils.cpp_extension import _get_build_directory

    return Path(_get_build_directory(name, verbose=False))  # created if missing


def _is_built(name: str, build_dir: Path) -> bool:
    """A compiled module newer than every source: loading it will not compile."""
    library = build_dir / f"{name}.so"
    if not library.is_file():
        return False
    source_dir = Path(__file__).parent / "csrc"
    newest_source = max((source_dir / file).stat().st_mtime for file in SOURCES)
    return library.stat().st_mtime >= newest_source


@contextmanager
def _build_lock(name: str) -> Iterator[None]:
    """Serialize builds and loads of one extension with an flock, which the kernel releases when
    its holder dies. torch's own lock is a plain file: a process killed while loading (a sweep's
    worker, Ctrl-C) leaves it behind and every later load waits on it forever. Holding the flock,
    we know no live process holds torch's lock, so a leftover one is removed."""
    build_dir = _build_directory(name)
    try:
        import fcntl
    except ImportError:  # not POSIX: only remove a lock old enough to be stale
        _remove_if_older(build_dir / "lock", max_age_s=900.0)
        yield
        return
    with (build_dir / "rnnbench.flock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            (build_dir / "lock").unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_if_older(path: Path, max_age_s: float) -> None:
    try:
        if path.exists() and time.time() - path.stat().st_mtime > max_age_s:
            path.unlink()
    except OSError:
        return


def _put_ninja_on_path() -> None:
    """torch runs `ninja` from PATH: add pip's binary (an unactivated venv hides it)."""
    try:
        import ninja
    except ImportError:
        return
    bin_dir = str(ninja.BIN_DIR)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _build() -> ModuleType:
    from torch.utils.cpp_extension import load_inline

    _put_ninja_on_path()

    name = current_build_name()
    source_dir = Path(__file__).parent / "csrc"
    source = "\n".join((source_dir / file).read_text() for file in SOURCES)
    with _build_lock(name):
        build_dir = _build_directory(name)
        compiles = not _is_built(name, build_dir)  # checked under the lock: another may have built
        started = time.perf_counter()
        if compiles:
            _announce(BuildEvent("start", torch.__version__, build_dir))
        module = load_inline(  # type: ignore[no-untyped-call]
            name=name,
            cpp_sources=[source],
            functions=list(FUNCTIONS),
            extra_cflags=list(FLAGS),
            verbose=False,
        )
        if compiles:
            seconds = time.perf_counter() - started
            _announce(BuildEvent("done", torch.__version__, build_dir, seconds))
    assert isinstance(module, ModuleType)
    return module


def native() -> ModuleType | None:
    """The compiled module, building it on first use; None if disabled or unavailable."""
    if not enabled():
        return None
    if "module" not in _state:
        try:
            _state["module"] = _build()
        except Exception as exc:  # compiler missing, build failure: fall back, say so once
            warnings.warn(
                f"rnnbench: compiled CPU kernels unavailable ({type(exc).__name__}: {exc}); "
                "using the pure-torch loops",
                RuntimeWarning,
                stacklevel=2,
            )
            _state["module"] = None
    return _state["module"]


def use_native(*tensors: torch.Tensor) -> ModuleType | None:
    """The compiled module when every tensor is on the CPU in float32/float64, else None."""
    for tensor in tensors:
        if tensor.device.type != "cpu" or tensor.dtype not in (torch.float32, torch.float64):
            return None
    return native()

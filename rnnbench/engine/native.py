"""Optional compiled CPU loops (C++ via `torch.utils.cpp_extension.load_inline`).

The first use on a machine compiles `csrc/*.cpp` (about a minute on 2 cores) into torch's
extension cache (`$TORCH_EXTENSIONS_DIR`, default `~/.cache/torch_extensions`); later uses load
the cached build in well under a second. `RNNBENCH_NATIVE=0` disables the compiled path; if the
compiler is missing or the build fails, the kernels warn once and use their pure-torch loops.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

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
_state: dict[str, ModuleType | None] = {}


def enabled() -> bool:
    """Whether the compiled path may be used (`RNNBENCH_NATIVE` is not 0/false/no)."""
    return os.environ.get("RNNBENCH_NATIVE", "1").strip().lower() not in {"0", "false", "no", "off"}


def _machine_tag() -> str:
    """Builds use -march=native: key the cache on the CPU so a shared cache never mixes them."""
    cpu = platform.processor() + platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        cpu += "".join(line for line in lines if line.startswith(("model name", "flags")))[:4000]
    text = cpu + torch.__version__ + "".join(FLAGS)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@contextmanager
def _build_lock(name: str) -> Iterator[None]:
    """Serialize builds and loads of one extension with an flock, which the kernel releases when
    its holder dies. torch's own lock is a plain file: a process killed while loading (a sweep's
    worker, Ctrl-C) leaves it behind and every later load waits on it forever. Holding the flock,
    we know no live process holds torch's lock, so a leftover one is removed."""
    from torch.utils.cpp_extension import _get_build_directory

    build_dir = Path(_get_build_directory(name, verbose=False))  # created if missing
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

    name = f"rnnbench_engine_{_machine_tag()}"
    source_dir = Path(__file__).parent / "csrc"
    source = "\n".join((source_dir / file).read_text() for file in SOURCES)
    with _build_lock(name):
        module = load_inline(  # type: ignore[no-untyped-call]
            name=name,
            cpp_sources=[source],
            functions=list(FUNCTIONS),
            extra_cflags=list(FLAGS),
            verbose=False,
        )
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

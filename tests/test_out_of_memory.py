"""A failed allocation is one 'out of memory: ...' line (exit 1), never a torch traceback.

The end-to-end cases run in a subprocess whose address space is capped a little above what it
already uses, so the model or batch really cannot be allocated, without touching this machine.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from rnnbench.errors import ResourceError, out_of_memory_as_error

REPO = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, statm")

CAP = """
import resource
page = resource.getpagesize()
used = int(open("/proc/self/statm").read().split()[0]) * page
resource.setrlimit(resource.RLIMIT_AS, (used + 128 * 2**20, resource.RLIM_INFINITY))
"""


def run_capped(prelude: str, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(prelude) + CAP + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_a_failed_torch_allocation_becomes_one_resource_error() -> None:
    with pytest.raises(ResourceError) as caught, out_of_memory_as_error("building it"):
        torch.empty(2**50)  # 4 PiB: refused at once, nothing is touched
    assert str(caught.value) == "out of memory: building it (tried to allocate 4194304.0 GiB)"
    assert caught.value.exit_code == 1


def test_memory_error_and_overflow_are_out_of_memory_too() -> None:
    failed = r"^out of memory: x \(an allocation failed\)$"
    with pytest.raises(ResourceError, match=failed), out_of_memory_as_error("x"):
        bytearray(2**60)
    overflows = r"^out of memory: x \(the size overflows\)$"
    with pytest.raises(ResourceError, match=overflows), out_of_memory_as_error("x"):
        torch.empty(2**62)


def test_other_runtime_errors_pass_through() -> None:
    with pytest.raises(RuntimeError, match="shape"), out_of_memory_as_error("x"):
        torch.zeros(2, 3) @ torch.zeros(2, 3)


@linux_only
def test_training_a_model_that_does_not_fit_is_one_line(tmp_path: Path) -> None:
    prelude = """
    import sys
    from pathlib import Path
    import numpy as np
    from rnnbench.config import parse_config
    from rnnbench.errors import ResourceError
    from rnnbench.train import train
    raw = {"device": "cpu", "data": {"name": "jsb"}, "optim": {"lr": 0.01},
           "model": {"cell": "lstm", "hidden_size": 4096}}
    config = parse_config(raw, "big")
    splits = {name: [np.zeros((5, 88), np.uint8)] for name in ("train", "valid", "test")}
    """
    body = """
    try:
        train(config, Path(sys.argv[1]), splits=splits)
    except ResourceError as exc:
        print(exc)
        sys.exit(exc.exit_code)
    """
    result = run_capped(prelude, body, str(tmp_path / "run"))
    assert result.returncode == 1, result.stderr
    assert result.stdout.strip().startswith(
        "out of memory: training lstm with 4096 units, batch 1 on cpu (tried to allocate"
    )


@linux_only
def test_bench_at_a_size_that_does_not_fit_is_one_line() -> None:
    prelude = """
    import sys
    import torch
    import rnnbench.bench
    from rnnbench.cli import app
    """
    body = """
    app(["bench", "--cells", "tanh", "--batch", "4096", "--seq-len", "10000", "--repeats", "1",
         "--warmup", "0", "--threads", "1", "--format", "json"])
    """
    result = run_capped(prelude, body)
    assert result.returncode == 1, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: out of memory: benchmarking batch 4096 x 10000 steps on cpu (tried to allocate"
        )
    )
    assert "Traceback" not in result.stderr

"""On a GPU: the kernels, the bench and a whole training run give the CPU's numbers.

Skipped where torch sees no CUDA device (CI has none). Run on a GPU machine with
`pytest tests/test_cuda.py`; docs/speed.md records the last such run and its figures.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.engine import KERNELS
from rnnbench.records import read_metrics
from tests.engine.reference import REFERENCES
from tests.engine.test_kernels import grads_of, make_inputs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(REPO / "configs" / "smoke.yaml")


@pytest.mark.parametrize("cell", sorted(KERNELS))
def test_kernel_on_cuda_matches_cpu_reference(cell: str) -> None:
    """float64 on the GPU against the per-step autograd reference on the CPU: outputs, gradients."""
    x_proj, recurrent, peephole = make_inputs(cell, batch=4, steps=23, size=9)
    cpu_inputs = [x_proj, recurrent] + ([peephole] if peephole is not None else [])
    gpu_inputs = [tensor.detach().cuda().requires_grad_(True) for tensor in cpu_inputs]
    gpu_peephole = gpu_inputs[2] if peephole is not None else None
    fast = KERNELS[cell](gpu_inputs[0], gpu_inputs[1], gpu_peephole)
    slow = REFERENCES[cell](x_proj, recurrent, peephole)
    assert fast.device.type == "cuda" and fast.shape == (4, 23, 9)
    torch.testing.assert_close(fast.cpu(), slow, rtol=1e-10, atol=1e-12)
    upstream = torch.randn(4, 23, 9, dtype=torch.float64)
    got = grads_of(fast, gpu_inputs, upstream.cuda())
    want = grads_of(slow, cpu_inputs, upstream)
    for gpu_grad, cpu_grad in zip(got, want, strict=True):
        assert gpu_grad.device.type == "cuda"
        torch.testing.assert_close(gpu_grad.cpu(), cpu_grad, rtol=1e-8, atol=1e-10)


def valid_curve(run_dir: Path) -> list[float]:
    with (run_dir / "history.csv").open() as handle:
        return [float(row["nll_valid"]) for row in csv.DictReader(handle)]


@pytest.mark.mirror
@pytest.mark.parametrize("variant", ["paper", "fused"])
def test_training_on_cuda_matches_cpu_without_noise(
    variant: str, data_dir_all: Path, tmp_path: Path
) -> None:
    """Same seed, no weight noise (the one draw that differs: CUDA has its own generator): the
    validation curve and the final test NLL on the GPU equal the CPU's to float32 precision."""
    records = {}
    for device in ("cpu", "cuda"):
        run_dir = tmp_path / device
        args = ["train", SMOKE, "--set", f"data.data_dir={data_dir_all}"]
        args += ["--set", f"device={device}", "--set", f"model.variant={variant}"]
        args += ["--set", "optim.weight_noise=0"]
        args += ["--set", "data.max_sequences=16", "--run-dir", str(run_dir)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        records[device] = (read_metrics(run_dir), valid_curve(run_dir))
    (cpu, cpu_curve), (gpu, gpu_curve) = records["cpu"], records["cuda"]
    assert gpu.device.startswith("cuda") and cpu.device == "cpu"
    assert gpu.status == cpu.status == "ok" and len(gpu_curve) == len(cpu_curve) == 3
    assert gpu_curve == pytest.approx(cpu_curve, abs=5e-3)
    assert gpu.nll_test == pytest.approx(cpu.nll_test, abs=5e-3)


@pytest.mark.mirror
def test_noisy_training_on_cuda_learns(data_dir_all: Path, tmp_path: Path) -> None:
    """With the paper's weight noise (drawn by CUDA's generator) a GPU run learns and is
    reproducible: the same config twice gives the same test NLL (to 1e-4)."""
    tests = []
    for repeat in range(2):
        run_dir = tmp_path / f"run{repeat}"
        args = ["train", SMOKE, "--set", f"data.data_dir={data_dir_all}", "--set", "device=cuda"]
        result = CliRunner().invoke(app, [*args, "--run-dir", str(run_dir)])
        assert result.exit_code == 0, result.output
        tests.append(read_metrics(run_dir).nll_test)
    assert tests[0] is not None and tests[0] < 20  # from ~61 nats (88 fair coins)
    assert tests[1] == pytest.approx(tests[0], abs=1e-4)


def test_bench_on_cuda_reports_the_gpu() -> None:
    tiny = ["--batch", "4", "--seq-len", "20", "--repeats", "2", "--warmup", "1"]
    result = CliRunner().invoke(app, ["bench", "--device", "cuda", *tiny, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["machine"]["gpu"] == torch.cuda.get_device_name()
    assert {row["cell"] for row in report["rows"]} == {"tanh", "gru", "lstm"}
    assert all(row["frames_per_s"] > 0 for row in report["rows"])

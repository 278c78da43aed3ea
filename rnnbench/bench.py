"""Training-throughput benchmark behind `rnnbench bench`.

One training step is the trainer's own (rnnbench.train.step: forward, masked NLL, backward,
gradient-norm clip to 1, RMSProp update, weight noise 0.075 resampled every step), on a (B, T, 88)
batch of random piano-roll frames with right-padded lengths in [T/2, T]. Throughput is B*T frames
(the frames every implementation computes) over the median step time. Implementations of one cell
are timed round-robin, step by step, so that load from other processes hits them alike.

A built-in cell races the suite's variants against torch's own modules at the paper's size; a
plugin cell (docs/cells.md) races at its `auto` size against torch's fused GRU at the paper's
size, the same parameter budget (impl `torch-fused-gru`, the reference of its ratio).
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnbench.cells import auto_hidden_size, get_cell
from rnnbench.config import MAX_HIDDEN_SIZE, MAX_THREADS, OptimConfig
from rnnbench.engine.baselines import TorchCellLoopModel, TorchFusedModel
from rnnbench.errors import UnknownNameError, UsageError, out_of_memory_as_error
from rnnbench.models import build_model
from rnnbench.train.batching import Batch
from rnnbench.train.step import build_optimizer, training_step

PROTOCOL = OptimConfig()  # the paper's optimizer settings: RMSProp, weight noise 0.075, clip 1
PLUGIN_REFERENCE = "gru"  # a plugin cell's ratio is against torch's fused module of this cell
# Far beyond a useful benchmark, low enough that a typo is a usage error, not a crash.
MAX_BATCH = 4096
MAX_SEQ_LEN = 10_000
MAX_STEPS = 100_000  # --repeats and --warmup
ModelBuilder = Callable[[], nn.Module]


@dataclass(frozen=True)
class Contender:
    """One implementation in a cell's race: its label, the model it builds, its size."""

    impl: str
    hidden_size: int
    build: ModelBuilder
    reference: bool = False  # the row the others' ratios are against


def contenders(cell: str) -> list[Contender]:
    """Benchmarked implementations of one cell, in display order."""
    spec = get_cell(cell)
    size = auto_hidden_size(cell, MAX_HIDDEN_SIZE)
    if spec.plugin is not None:
        reference = PLUGIN_REFERENCE
        reference_size = auto_hidden_size(reference, MAX_HIDDEN_SIZE)
        return [
            Contender("plugin", size, lambda: build_model(cell, "paper", size)),
            Contender(
                f"torch-fused-{reference}",
                reference_size,
                lambda: TorchFusedModel(reference, reference_size),
                reference=True,
            ),
        ]
    races = [Contender("rnnbench-paper", size, lambda: build_model(cell, "paper", size))]
    if spec.fused is not None:
        races += [
            Contender("rnnbench-fused", size, lambda: build_model(cell, "fused", size)),
            Contender("torch-fused", size, lambda: TorchFusedModel(cell, size), reference=True),
            Contender("torch-cell-loop", size, lambda: TorchCellLoopModel(cell, size)),
        ]
    return races


@dataclass(frozen=True)
class BenchRow:
    cell: str
    impl: str
    hidden_size: int
    batch: int
    seq_len: int
    device: str
    repeats: int
    median_step_ms: float
    frames_per_s: float
    ratio_vs_torch_fused: float


@dataclass
class _Runner:
    contender: Contender
    model: nn.Module
    optimizer: torch.optim.Optimizer
    times: list[float]


def random_batch(batch: int, seq_len: int, device: torch.device, seed: int = 0) -> Batch:
    """Random piano-roll frames (B, T, 88), next-frame targets and a mask of random lengths."""
    generator = torch.Generator().manual_seed(seed)
    roll = (torch.rand(batch, seq_len + 1, 88, generator=generator) < 0.05).float()  # (B, T+1, 88)
    lengths = torch.randint(max(1, seq_len // 2), seq_len + 1, (batch,), generator=generator)
    mask = torch.arange(seq_len)[None, :] < lengths[:, None]  # (B, T)
    inputs = roll[:, :-1] * mask[..., None]  # (B, T, 88), zero after each sequence's end
    targets = roll[:, 1:] * mask[..., None]  # (B, T, 88)
    return Batch(inputs, targets, mask, tuple(range(batch))).to(device)


def bench_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch) -> None:
    """The trainer's step with the paper's weight noise and clipping."""
    training_step(
        model, optimizer, batch, weight_noise=PROTOCOL.weight_noise, clip_norm=PROTOCOL.clip_norm
    )


def _timed_step(runner: _Runner, batch: Batch, device: torch.device) -> float:
    start = time.perf_counter()
    bench_step(runner.model, runner.optimizer, batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def bench_cell(
    cell: str, *, batch: int, seq_len: int, device: torch.device, repeats: int, warmup: int
) -> list[BenchRow]:
    """Time every implementation on one cell; rows in display order."""
    data = random_batch(batch, seq_len, device)
    runners = []
    for contender in contenders(cell):
        torch.manual_seed(0)
        model = contender.build().to(device).train()
        optimizer = build_optimizer(model.parameters(), PROTOCOL)
        runners.append(_Runner(contender, model, optimizer, []))
    for round_index in range(warmup + repeats):
        for runner in runners:
            elapsed = _timed_step(runner, data, device)
            if round_index >= warmup:
                runner.times.append(elapsed)
    medians = [statistics.median(runner.times) for runner in runners]
    reference = next(
        (
            median
            for runner, median in zip(runners, medians, strict=True)
            if runner.contender.reference
        ),
        medians[0],
    )
    return [
        BenchRow(
            cell=cell,
            impl=runner.contender.impl,
            hidden_size=runner.contender.hidden_size,
            batch=batch,
            seq_len=seq_len,
            device=device.type,
            repeats=repeats,
            median_step_ms=round(median * 1e3, 3),
            frames_per_s=round(batch * seq_len / median, 1),
            ratio_vs_torch_fused=round(reference / median, 3),
        )
        for runner, median in zip(runners, medians, strict=True)
    ]


def resolve_device(name: str) -> torch.device:
    """`cpu` or `cuda`; `cuda` without a GPU is a usage error."""
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available to torch on this machine")
        return torch.device("cuda")
    raise UnknownNameError("device", name, ["cpu", "cuda"])


def parse_cells(text: str) -> list[str]:
    """'tanh,gru,mypkg.cells:MGU' -> the names, each a built-in or plugin cell that loads."""
    cells = [part.strip() for part in text.split(",") if part.strip()]
    if not cells:
        raise UsageError("--cells: give at least one cell, e.g. tanh,gru,lstm")
    for cell in cells:  # UnknownNameError / PluginError: exit 2 before anything runs
        spec = get_cell(cell)
        if spec.plugin is not None:
            from rnnbench.models.plugins import check_cell

            check_cell(spec, auto_hidden_size(cell, MAX_HIDDEN_SIZE))
    return cells


def check_options(
    *, batch: int, seq_len: int, repeats: int, warmup: int, threads: int | None = None
) -> None:
    """Every size within its range, or a UsageError naming the option."""
    limits = [
        ("--batch", batch, 1, MAX_BATCH),
        ("--seq-len", seq_len, 1, MAX_SEQ_LEN),
        ("--repeats", repeats, 1, MAX_STEPS),
        ("--warmup", warmup, 0, MAX_STEPS),
    ]
    if threads is not None:
        limits.append(("--threads", threads, 1, MAX_THREADS))
    for name, value, low, high in limits:
        if not low <= value <= high:
            raise UsageError(f"{name} must be between {low} and {high}, got {value}")


def run_bench(
    cells: list[str],
    *,
    batch: int,
    seq_len: int,
    device: torch.device,
    repeats: int,
    warmup: int,
) -> list[BenchRow]:
    """Benchmark every cell; validates sizes first. A failed allocation is a ResourceError."""
    check_options(batch=batch, seq_len=seq_len, repeats=repeats, warmup=warmup)
    rows: list[BenchRow] = []
    with out_of_memory_as_error(f"benchmarking batch {batch} x {seq_len} steps on {device.type}"):
        for cell in cells:
            rows.extend(
                bench_cell(
                    cell,
                    batch=batch,
                    seq_len=seq_len,
                    device=device,
                    repeats=repeats,
                    warmup=warmup,
                )
            )
    return rows


def rows_as_dicts(rows: list[BenchRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        if match:
            return match.group(1).strip()
    return platform.processor() or platform.machine()


def _onednn_version() -> str | None:
    if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        return None
    match = re.search(r"(?:oneDNN|MKL-DNN) v?([\d.]+)", torch.__config__.show())
    return match.group(1) if match else "available"


def machine_info(device: torch.device) -> dict[str, Any]:
    """The machine a benchmark ran on: CPU, cores, threads, library versions, GPU."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onednn": _onednn_version(),
        "python": platform.python_version(),
        "device": device.type,
        "gpu": None,
        "cudnn": None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
    return info

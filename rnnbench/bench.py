"""Training-throughput benchmark behind `rnnbench bench`.

One training step = forward, masked BCE loss, backward, gradient-norm clip to 1 and an RMSProp
update, with weight noise 0.075 resampled every step, on a (B, T, 88) batch of random piano-roll
frames with right-padded lengths in [T/2, T]. Throughput is B*T frames (the frames every
implementation computes) over the median step time. Implementations of one cell are timed
round-robin, step by step, so that load from other processes hits them alike.
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

from rnnbench.config import MAX_THREADS
from rnnbench.engine.baselines import (
    PAPER_HIDDEN,
    KernelModel,
    TorchCellLoopModel,
    TorchFusedModel,
)
from rnnbench.errors import UnknownNameError, UsageError, out_of_memory_as_error

WEIGHT_NOISE = 0.075
# Far beyond a useful benchmark, low enough that a typo is a usage error, not a crash.
MAX_BATCH = 4096
MAX_SEQ_LEN = 10_000
MAX_STEPS = 100_000  # --repeats and --warmup
ModelBuilder = Callable[[str, int], nn.Module]


def _suite_model(variant: str) -> ModelBuilder | None:
    """`rnnbench.models.build_model` for one variant, once the models package exists."""
    try:
        from rnnbench.models import build_model
    except ImportError:
        return None
    return lambda cell, hidden_size: build_model(cell, variant, hidden_size)


def implementations() -> dict[str, ModelBuilder]:
    """Benchmarked implementations, in display order; `torch-fused` is the reference row."""
    paper = _suite_model("paper") or KernelModel
    builders: dict[str, ModelBuilder] = {"rnnbench-paper": paper}
    fused = _suite_model("fused")
    if fused is not None:
        builders["rnnbench-fused"] = fused
    builders["torch-fused"] = TorchFusedModel
    builders["torch-cell-loop"] = TorchCellLoopModel
    return builders


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
class _Contender:
    impl: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    times: list[float]


def make_batch(
    batch: int, seq_len: int, device: torch.device, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs (B, T, 88), next-frame targets (B, T, 88) and loss weights (B, T, 1) from lengths."""
    generator = torch.Generator().manual_seed(seed)
    roll = (torch.rand(batch, seq_len + 1, 88, generator=generator) < 0.05).float()  # (B, T+1, 88)
    lengths = torch.randint(max(1, seq_len // 2), seq_len + 1, (batch,), generator=generator)
    mask = (torch.arange(seq_len)[None, :] < lengths[:, None]).float()[..., None]  # (B, T, 1)
    return roll[:, :-1].to(device), roll[:, 1:].to(device), mask.to(device)


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, batch: tuple[torch.Tensor, ...]
) -> None:
    """One protocol step: noisy forward, masked BCE (nats per frame), backward, clip, RMSProp."""
    inputs, targets, weights = batch
    optimizer.zero_grad(set_to_none=True)
    logits = model(inputs, WEIGHT_NOISE)  # (B, T, 88)
    loss = nn.functional.binary_cross_entropy_with_logits(
        logits, targets, weight=weights, reduction="sum"
    ) / weights.sum().clamp(min=1.0)
    loss.backward()  # type: ignore[no-untyped-call]
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def _timed_step(
    contender: _Contender, batch: tuple[torch.Tensor, ...], device: torch.device
) -> float:
    start = time.perf_counter()
    train_step(contender.model, contender.optimizer, batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def bench_cell(
    cell: str, *, batch: int, seq_len: int, device: torch.device, repeats: int, warmup: int
) -> list[BenchRow]:
    """Time every implementation on one cell; rows in display order."""
    hidden_size = PAPER_HIDDEN[cell]
    data = make_batch(batch, seq_len, device)
    contenders = []
    for impl, builder in implementations().items():
        torch.manual_seed(0)
        model = builder(cell, hidden_size).to(device).train()
        optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
        contenders.append(_Contender(impl, model, optimizer, []))
    for round_index in range(warmup + repeats):
        for contender in contenders:
            elapsed = _timed_step(contender, data, device)
            if round_index >= warmup:
                contender.times.append(elapsed)
    medians = {c.impl: statistics.median(c.times) for c in contenders}
    reference = medians["torch-fused"]
    return [
        BenchRow(
            cell=cell,
            impl=impl,
            hidden_size=hidden_size,
            batch=batch,
            seq_len=seq_len,
            device=device.type,
            repeats=repeats,
            median_step_ms=round(median * 1e3, 3),
            frames_per_s=round(batch * seq_len / median, 1),
            ratio_vs_torch_fused=round(reference / median, 3),
        )
        for impl, median in medians.items()
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
    """'tanh,gru' -> ['tanh', 'gru'], each a known paper cell."""
    cells = [part.strip() for part in text.split(",") if part.strip()]
    if not cells:
        raise UsageError("--cells: give at least one of tanh, gru, lstm")
    for cell in cells:
        if cell not in PAPER_HIDDEN:
            raise UnknownNameError("cell", cell, PAPER_HIDDEN)
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

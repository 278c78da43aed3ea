"""Process-level set-up for a run: threads, denormals, device, data."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import torch

from rnnbench.config import Config
from rnnbench.errors import ConfigError, TrainingError
from rnnbench.models import SequenceModel
from rnnbench.records import SPLITS

Splits = dict[str, list[np.ndarray]]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_torch(config: Config) -> torch.device:
    """Threads from the config (or all cores), flush denormals (tiny gate values otherwise crawl
    on CPU), and the device (run_device)."""
    torch.set_num_threads(config.train.num_threads or available_cores())
    torch.set_flush_denormal(True)
    return run_device(config)


GPU_FROM_BATCH = 64  # paper cells, one H200 against one CPU core (docs/speed.md): the CPU is 2-14x
# faster at batch 1 and 16, the GPU 2-5x faster at 128; the crossover, interpolated, is near 32-64.


def run_device(config: Config) -> torch.device:
    """The device a config trains on. auto: the CPU for the paper variant (and plugin cells) below
    GPU_FROM_BATCH sequences per batch: their per-step loops are compiled for the CPU only, and on
    a GPU they launch small kernels step by step (an H200 trained the JSB GRU at batch 1 7x slower
    than one CPU core). Otherwise, and for the fused variant (cuDNN), CUDA when present."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but CUDA is not available (use auto or cpu)")
    if config.device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    paper_cells = config.model.variant == "paper"
    if config.device == "auto" and paper_cells and config.train.batch_size < GPU_FROM_BATCH:
        return torch.device("cpu")
    return torch.device("cuda")


def warm_up(model: SequenceModel, device: torch.device) -> None:
    """One tiny forward pass before a run's clock starts, so that one-off set-up on first use
    (on a fresh machine, the engine's C++ build: ~20 s) is not timed as training. It draws no
    random numbers and changes no weights: the run is the same with or without it."""
    frames = torch.zeros(1, 2, model.output.out_features, device=device)  # (B=1, T=2, 88)
    with torch.no_grad():
        model(frames)


def warm_up_models(configs: Iterable[Config]) -> None:
    """`warm_up` one model of each kind among `configs`, on its device: a sweep does this before
    its workers start, so the engine is built once, here, not inside a trial."""
    from rnnbench.train.state import model_for

    seen: set[tuple[str, str]] = set()
    for config in configs:
        device = run_device(config)
        kind = (config.model.model_dump_json(), device.type)
        if kind not in seen:
            seen.add(kind)
            warm_up(model_for(config).to(device), device)


def load_splits(config: Config) -> tuple[Splits, str | None]:
    """The dataset's train/valid/test piano-rolls, cut to data.max_sequences if set, and the
    dataset's content digest (recorded in metrics.json: one name may mean different data)."""
    try:
        from rnnbench.data import load
    except ImportError as exc:
        raise TrainingError(f"the data package is not available ({exc})") from None
    dataset = load(config.data.name, config.data.data_dir)
    splits = limit_splits({name: list(dataset.splits[name]) for name in SPLITS}, config)
    return splits, dataset.digest or None


def limit_splits(splits: Splits, config: Config) -> Splits:
    limit = config.data.max_sequences
    for name in SPLITS:
        if name not in splits:
            raise TrainingError(f"dataset '{config.data.name}' has no '{name}' split")
    limited = {name: splits[name][:limit] if limit else splits[name] for name in SPLITS}
    for name, sequences in limited.items():
        if not any(len(sequence) >= 2 for sequence in sequences):
            raise TrainingError(
                f"dataset '{config.data.name}': the {name} split has no sequence of 2+ frames"
            )
    return limited

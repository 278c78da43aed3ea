"""Process-level set-up for a run: threads, denormals, device, data."""

from __future__ import annotations

import os

import numpy as np
import torch

from rnnbench.config import Config
from rnnbench.errors import ConfigError, TrainingError
from rnnbench.records import SPLITS

Splits = dict[str, list[np.ndarray]]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_torch(config: Config) -> torch.device:
    """Threads from the config (or all cores), flush denormals (tiny gate values otherwise crawl
    on CPU), and the device: auto = CUDA when present."""
    torch.set_num_threads(config.train.num_threads or available_cores())
    torch.set_flush_denormal(True)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but CUDA is not available (use auto or cpu)")
    if config.device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


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

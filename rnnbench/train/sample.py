"""Sampling from a trained run: Bernoulli draws of each next frame (MIDI via rnnbench.data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnbench.config import Config
from rnnbench.errors import TrainingError
from rnnbench.models import SequenceModel
from rnnbench.records import CHECKPOINT_FILE
from rnnbench.train import record
from rnnbench.train.checkpoint import BadEntryError, check_weights
from rnnbench.train.state import model_for


def load_trained(run_dir: Path, weights: str = "best") -> tuple[Config, SequenceModel]:
    """The run's config and its weights: "best" (the ones its metrics were measured with) or
    "last" (those of its last finished epoch: what a run without early stopping would report)."""
    entry = {"best": "best_model", "last": "model"}.get(weights)
    if entry is None:
        raise TrainingError(f"weights: {weights!r} is not one of best, last")
    config = record.read_run_config(run_dir)
    checkpoint = record.load_checkpoint(run_dir)  # its top-level entries are checked there
    path = run_dir / CHECKPOINT_FILE
    model = model_for(config)
    try:
        check_weights(entry, checkpoint[entry], model.state_dict())
    except BadEntryError as exc:
        raise TrainingError(f"{path}: does not match the run's config (entry {exc})") from None
    if weights == "last":
        _check_last_kept(path, checkpoint)
    model.load_state_dict(checkpoint[entry])
    return config, model.eval()


def _check_last_kept(path: Path, checkpoint: dict[str, Any]) -> None:
    """Refuse a finished checkpoint whose `model` is its best weights although a later epoch ran:
    one written before finished checkpoints kept the last epoch's weights, which are lost."""
    if not checkpoint["finished"]:
        return  # an unfinished checkpoint's `model` is the last checkpointed epoch's weights
    best_epoch = checkpoint["progression"].get("best_epoch")
    epoch = checkpoint["progression"].get("epoch")
    if not isinstance(best_epoch, int) or not isinstance(epoch, int) or best_epoch >= epoch:
        return
    last, best = checkpoint["model"], checkpoint["best_model"]
    if all(name in best and torch.equal(tensor, best[name]) for name, tensor in last.items()):
        raise TrainingError(
            f"{path}: the last epoch's weights were not kept (a checkpoint from before they "
            f"were; its 'model' is the best, epoch {best_epoch}, not epoch {epoch})"
        )


def steps_per_beat(config: Config) -> int:
    """Piano-roll frames per beat of the run's dataset (JSB 1: quarter notes; the others 2)."""
    from rnnbench.data import resolve
    from rnnbench.data.store import imported_datasets

    entry = resolve(config.data.name, config.data.data_dir)
    if entry.spec is not None:
        return entry.spec.steps_per_beat
    return int(imported_datasets(entry.data_dir)[entry.name].get("steps_per_beat", 2))


@torch.inference_mode()
def sample_roll(model: SequenceModel, steps: int, seed: int) -> np.ndarray:
    """`steps` frames drawn one at a time, each from the model's Bernoulli output given all the
    frames before it, starting from one silent frame. Returns (steps, 88) uint8."""
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    frames = torch.zeros(1, 1, model.output.out_features)  # (1, 1, 88): the silent first frame
    for _ in range(steps):
        logits = model(frames)[:, -1]  # (1, 88): prediction for the next frame
        probabilities = torch.sigmoid(logits)
        frame = torch.bernoulli(probabilities, generator=generator)  # (1, 88)
        frames = torch.cat([frames, frame.unsqueeze(1)], dim=1)  # (1, t + 1, 88)
    return frames[0, 1:].to(torch.uint8).numpy()  # (steps, 88)

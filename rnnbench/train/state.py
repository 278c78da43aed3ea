"""What a run carries between epochs: model, optimizer, early stopping, and its checkpoint form."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from rnnbench.config import Config, config_hash
from rnnbench.models import SequenceModel, build_model
from rnnbench.train.checkpoint import check_checkpoint
from rnnbench.train.step import build_optimizer


@dataclass
class Progression:
    epoch: int = 0  # epochs completed
    best_epoch: int = 0
    best_nll_valid: float = math.inf
    bad_epochs: int = 0  # epochs since the last new best
    wall_time_s: float = 0.0  # training wall time, evaluation included, over all sessions
    train_time_s: float = 0.0  # forward + backward + step only
    train_frames: int = 0  # predicted frames processed by training steps
    # One row per epoch (history.csv); nll_train is None on epochs that skip it.
    history: list[dict[str, float | None]] = field(default_factory=list)


@dataclass
class RunState:
    model: SequenceModel
    optimizer: torch.optim.Optimizer
    best_model: dict[str, torch.Tensor]
    progression: Progression


def model_for(config: Config) -> SequenceModel:
    """The model a config describes (weights drawn from torch's global RNG)."""
    spec = config.model
    return build_model(
        spec.cell, spec.variant, spec.hidden_size, init=spec.init, peepholes=spec.peepholes
    )


def fresh_state(config: Config, device: torch.device) -> RunState:
    """Seed torch, build the model (initial weights from the seed) and its optimizer."""
    torch.manual_seed(config.seed)
    model = model_for(config).to(device)
    best_model = copy.deepcopy(model.state_dict())
    return RunState(
        model, build_optimizer(model.parameters(), config.optim), best_model, Progression()
    )


def rng_state() -> dict[str, Any]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def to_checkpoint(state: RunState, config: Config, finished: bool) -> dict[str, Any]:
    return {
        "config_hash": config_hash(config),
        "finished": finished,
        "model": state.model.state_dict(),
        "best_model": state.best_model,
        "optimizer": state.optimizer.state_dict(),
        "progression": asdict(state.progression),
        "rng": rng_state(),
    }


def from_checkpoint(checkpoint: dict[str, Any], config: Config, device: torch.device) -> RunState:
    """The state a checkpoint holds; raises BadEntryError (a ValueError) naming the first entry that
    does not fit the config's model, optimizer or epoch budget, before anything is restored."""
    state = fresh_state(config, device)
    check_checkpoint(checkpoint, state.model, state.optimizer, Progression, config.train.max_epochs)
    state.model.load_state_dict(checkpoint["model"])
    state.optimizer.load_state_dict(checkpoint["optimizer"])
    state.best_model = {
        name: tensor.to(device) for name, tensor in checkpoint["best_model"].items()
    }
    state.progression = Progression(**checkpoint["progression"])
    restore_rng(checkpoint["rng"])
    return state

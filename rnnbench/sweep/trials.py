"""Trial materialization: the full, deterministic list of trials of a sweep.

A sweep expands each base config (one (dataset, cell) pair) into `trials` learning rates drawn
log-uniformly as exp(U(-12, -6)), the paper's search, times `seeds` training seeds 0..K-1.

Draws are per model, as in the paper: each (dataset, cell) pair has its own random stream, seeded by
(sweep seed, dataset, cell). So adding or removing a pair never changes another pair's learning
rates, and raising `--trials` from 5 to 10 keeps the first 5 draws (the stream is read in order).

Each trial is a fully resolved config; its id is that config's hash, and its run directory is
`<results-dir>/runs/<trial_id>/` in the exact `rnnbench train` format. A base config is read and
validated once; its trials are copies with the learning rate and seed set on the validated object.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from rnnbench.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from rnnbench.config import Config

LOG_LR_LOW = -12.0
LOG_LR_HIGH = -6.0
# Far beyond any real search, low enough that a typo cannot hang the materialization.
MAX_TRIALS = 10_000
MAX_SEEDS = 1_000


class Trial(BaseModel):
    """One trial of a sweep: a resolved config plus the coordinates that produced it."""

    model_config = ConfigDict(frozen=True)

    trial_id: str  # config hash of `config`
    dataset: str
    cell: str
    variant: str
    hidden_size: int
    lr_index: int  # which draw of the pair's stream (0..trials-1)
    lr: float
    seed: int
    source: str  # the base config file
    config: dict[str, Any]  # the resolved config, as JSON

    def describe(self) -> str:
        return f"{self.trial_id}  {self.dataset}/{self.cell}  lr {self.lr:.3g}  seed {self.seed}"


@dataclass(frozen=True)
class BaseConfig:
    """One (dataset, cell) pair to search: a config file, and values that replace some of its
    fields (`("model.cell", "gru")`) before it is validated."""

    path: Path
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def source(self) -> str:
        """The file, and the fields this base replaces in it (trial lists and errors name it)."""
        if not self.settings:
            return str(self.path)
        return f"{self.path} with " + ", ".join(f"{key}={value}" for key, value in self.settings)

    def load(self, overrides: Sequence[str] = ()) -> Config:
        """Read the file once, set `settings`, apply the user's `--set` overrides, validate."""
        from rnnbench.config import load_raw, parse_config

        raw = load_raw(self.path)
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.path}: expected a mapping at the top level")
        for key, value in self.settings:
            set_value(raw, key, value)
        return parse_config(raw, self.source, overrides)


def set_value(raw: dict[str, Any], key: str, value: Any) -> None:
    """raw["model"]["cell"] = value for key "model.cell" (sections made as needed)."""
    *sections, field = key.split(".")
    node = raw
    for section in sections:
        child = node.get(section)
        if not isinstance(child, dict):
            child = node[section] = {}
        node = child
    node[field] = value


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep was asked to do: base configs, budget and overrides shared by all trials."""

    bases: tuple[BaseConfig, ...]
    trials: int = 10
    seeds: int = 1
    sweep_seed: int = 0
    overrides: tuple[str, ...] = ()
    fixed_lr: bool = False  # keep each base config's own optim.lr (trials must be 1)


def pair_stream_seed(sweep_seed: int, dataset: str, cell: str) -> int:
    """A stable 64-bit seed for one (dataset, cell) pair's learning-rate stream."""
    digest = hashlib.sha256(f"{sweep_seed}/{dataset}/{cell}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def draw_learning_rates(sweep_seed: int, dataset: str, cell: str, count: int) -> list[float]:
    """`count` learning rates exp(U(-12, -6)) from the pair's stream (prefix-stable in count)."""
    generator = np.random.Generator(np.random.PCG64(pair_stream_seed(sweep_seed, dataset, cell)))
    exponents = [float(generator.uniform(LOG_LR_LOW, LOG_LR_HIGH)) for _ in range(count)]
    return [math.exp(exponent) for exponent in exponents]


def check_budget(spec: SweepSpec) -> None:
    if not spec.bases:
        raise UsageError("no config to sweep: give a CONFIG file or --datasets/--cells")
    if not 1 <= spec.trials <= MAX_TRIALS:
        raise UsageError(f"--trials must be between 1 and {MAX_TRIALS}, got {spec.trials}")
    if not 1 <= spec.seeds <= MAX_SEEDS:
        raise UsageError(f"--seeds must be between 1 and {MAX_SEEDS}, got {spec.seeds}")
    if spec.fixed_lr and spec.trials != 1:
        raise UsageError("a fixed learning rate allows only --trials 1")


def materialize(spec: SweepSpec) -> list[Trial]:
    """Expand the spec into its trials, in a stable order: pair, then learning rate, then seed."""
    check_budget(spec)
    trials: list[Trial] = []
    for base in spec.bases:
        trials.extend(_pair_trials(spec, base))
    _check_unique(trials)
    return trials


def _pair_trials(spec: SweepSpec, base: BaseConfig) -> list[Trial]:
    resolved = base.load(spec.overrides)
    dataset, cell = resolved.data.name, resolved.model.cell
    if spec.fixed_lr:
        rates = [float(resolved.optim.lr)]
    else:
        rates = draw_learning_rates(spec.sweep_seed, dataset, cell, spec.trials)
    return [
        _make_trial(with_lr_and_seed(resolved, lr, seed), base.source, lr_index)
        for lr_index, lr in enumerate(rates)
        for seed in range(spec.seeds)
    ]


def with_lr_and_seed(config: Config, lr: float, seed: int) -> Config:
    """A copy of a validated config with another learning rate and seed (both validated)."""
    trial = config.model_copy(deep=True)
    trial.optim.lr = lr
    trial.seed = seed
    return trial


def _make_trial(config: Config, source: str, lr_index: int) -> Trial:
    from rnnbench.config import config_hash

    return Trial(
        trial_id=config_hash(config),
        dataset=config.data.name,
        cell=config.model.cell,
        variant=config.model.variant,
        hidden_size=config.model.hidden_size,
        lr_index=lr_index,
        lr=float(config.optim.lr),
        seed=int(config.seed),
        source=source,
        config=config.model_dump(mode="json"),
    )


def reseeded(trial: Trial, seed: int) -> Trial:
    """The same trial with another training seed (its own id; lr and lr_index unchanged)."""
    from rnnbench.config import Config

    config = Config.model_validate(trial.config)
    return _make_trial(with_lr_and_seed(config, trial.lr, seed), trial.source, trial.lr_index)


def _check_unique(trials: Sequence[Trial]) -> None:
    seen: dict[str, Trial] = {}
    for trial in trials:
        if trial.trial_id in seen:
            other = seen[trial.trial_id]
            raise UsageError(
                f"{trial.source} and {other.source} resolve to the same trial {trial.trial_id} "
                f"({trial.dataset}/{trial.cell}, lr {trial.lr:.3g}, seed {trial.seed}): "
                "remove the duplicate config"
            )
        seen[trial.trial_id] = trial

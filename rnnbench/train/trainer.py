"""The training loop: the paper's protocol (RMSProp, weight noise, clipping, early stopping)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from rnnbench import __version__
from rnnbench.cells import get_cell
from rnnbench.config import Config, config_hash
from rnnbench.errors import TrainingError, out_of_memory_as_error
from rnnbench.models import params_recurrent, params_total
from rnnbench.records import (
    CHECKPOINT_FILE,
    FINISHED_STATUSES,
    METRICS_FILE,
    SPLITS,
    CellOrigin,
    RecordError,
    RunMetrics,
    Status,
    read_metrics,
)
from rnnbench.train import record
from rnnbench.train.batching import Batch, epoch_permutation, length_buckets, make_batch
from rnnbench.train.checkpoint import BadEntryError
from rnnbench.train.evaluate import SplitResult, evaluate
from rnnbench.train.optimizers import epoch_lr, gradient_clip, set_lr
from rnnbench.train.progress import Progress, ProgressCallback
from rnnbench.train.setup import Splits, configure_torch, limit_splits, load_splits, warm_up
from rnnbench.train.state import RunState, fresh_state, from_checkpoint, to_checkpoint
from rnnbench.train.step import training_step


@dataclass
class EpochResult:
    frames: int
    seconds: float
    grad_norm: float  # mean gradient norm before clipping
    finite: bool  # False: a loss or gradient was NaN/inf (the run diverged)


@dataclass
class Session:
    """Everything one training session works with."""

    config: Config
    run_dir: Path
    device: torch.device
    data: Splits
    state: RunState
    report: ProgressCallback
    data_digest: str | None  # the dataset's content digest; None for in-memory splits


def train(
    config: Config,
    run_dir: Path,
    *,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    splits: Splits | None = None,
) -> RunMetrics:
    """Train one model and write its run record into `run_dir`; returns the final metrics.

    `resume=True` continues from run_dir's checkpoint and ends at the same result as an
    uninterrupted run. Ctrl-C saves and returns status `interrupted`; NaN/inf returns `diverged`.
    `splits` replaces the dataset named in the config (in-memory piano-rolls, e.g. for tests).
    """
    run_dir = Path(run_dir)
    device = configure_torch(config)
    if splits is not None:
        data, digest = limit_splits(splits, config), None
    else:
        data, digest = load_splits(config)
    if resume and _finished(run_dir):
        return read_metrics(run_dir)
    model = config.model
    with out_of_memory_as_error(
        f"training {model.cell} with {model.hidden_size} units, batch {config.train.batch_size}"
        f" on {device.type}"
    ):
        state = _open_run(config, run_dir, device, resume, digest)
        session = Session(config, run_dir, device, data, state, progress or _ignore, digest)
        try:
            warm_up(state.model, device)  # before the clock: a one-off engine build is untimed
        except KeyboardInterrupt:
            return _finish(session, "interrupted")
        session.report(_event("start", session))
        status = _train_epochs(session)
        try:
            return _finish(session, status)
        except KeyboardInterrupt:  # during the final evaluation: resume redoes only that
            return _finish(session, "interrupted")


def _ignore(event: Progress) -> None:
    """The default progress callback."""


def _finished(run_dir: Path) -> bool:
    """A finished record (ok or diverged); an unreadable metrics.json is not one: the run is
    resumed and rewrites it (the sweep's resume rule, rnnbench/sweep/state.py)."""
    if not (run_dir / METRICS_FILE).is_file():
        return False
    try:
        return read_metrics(run_dir).status in FINISHED_STATUSES
    except RecordError:
        return False


def _open_run(
    config: Config, run_dir: Path, device: torch.device, resume: bool, digest: str | None
) -> RunState:
    if resume and (run_dir / CHECKPOINT_FILE).is_file():
        checkpoint = record.load_checkpoint(run_dir)
        if checkpoint["config_hash"] != config_hash(config):
            raise TrainingError(f"{run_dir}: the config differs from the one this run started with")
        try:
            return from_checkpoint(checkpoint, config, device)
        except BadEntryError as exc:
            path = run_dir / CHECKPOINT_FILE
            raise TrainingError(f"{path}: bad checkpoint entry {exc}") from None
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrainingError(f"{run_dir / CHECKPOINT_FILE}: cannot restore ({first})") from None
    if not resume and (run_dir / METRICS_FILE).exists():
        raise TrainingError(f"{run_dir}: already holds a run (use --resume, or another run dir)")
    state = fresh_state(config, device)
    record.write_config(run_dir, config)
    metrics = _metrics(config, run_dir, state, "running", device, {}, data_digest=digest)
    record.write_metrics(run_dir, metrics)
    return state


def _train_epochs(session: Session) -> Status:
    config, progression = session.config, session.state.progression
    batches = _training_batches(session)
    eval_batch = config.train.eval_batch_size
    try:
        while progression.epoch < config.train.max_epochs:
            if progression.bad_epochs >= config.train.patience:
                break
            started = time.perf_counter()
            result = _train_one_epoch(session, batches, progression.epoch + 1)
            if not result.finite:
                return "diverged"
            on_train = None
            if _evaluates_train(config, progression.epoch + 1, progression.bad_epochs):
                on_train = evaluate(
                    session.state.model, session.data["train"], session.device, eval_batch
                )
            on_valid = evaluate(
                session.state.model, session.data["valid"], session.device, eval_batch
            )
            if not math.isfinite(on_valid.nll):
                return "diverged"
            _end_epoch(session, result, on_train, on_valid, time.perf_counter() - started)
            record.save_checkpoint(session.run_dir, to_checkpoint(session.state, config, False))
            record.write_history(session.run_dir, progression.history)
            session.report(_event("epoch", session))
    except KeyboardInterrupt:
        return "interrupted"
    return "ok"


def _evaluates_train(config: Config, epoch: int, bad_epochs: int) -> bool:
    """Whether this epoch's history row gets the training-split NLL: every eval_train_every
    epochs, the first, and any epoch the run may end on (the cap, or patience running out if
    validation NLL does not improve), so every curve reaches its last epoch."""
    every = config.train.eval_train_every
    final = epoch == config.train.max_epochs or bad_epochs + 1 >= config.train.patience
    return every == 1 or epoch == 1 or epoch % every == 0 or final


def _training_batches(session: Session) -> list[Batch]:
    """The training split's padded batches, built once on the device: the buckets are fixed and
    each epoch only reorders them (at batch size 1, building them was ~5% of an update)."""
    sequences = session.data["train"]
    buckets = length_buckets(sequences, session.config.train.batch_size)
    return [make_batch(sequences, bucket).to(session.device) for bucket in buckets]


def _train_one_epoch(session: Session, batches: list[Batch], epoch: int) -> EpochResult:
    """One pass over the training set in this epoch's batch order, fresh weight noise per update."""
    config, model, optimizer = session.config, session.state.model, session.state.optimizer
    model.train()
    set_lr(optimizer, epoch_lr(config, epoch))
    frames, grad_norms = 0, []
    started = time.perf_counter()
    for position in epoch_permutation(len(batches), config.seed, epoch):
        batch = batches[position]
        step = training_step(
            model,
            optimizer,
            batch,
            weight_noise=config.optim.weight_noise,
            clip_norm=gradient_clip(config.optim),
            loss_average=config.train.loss_average,
        )
        if not step.finite:
            return EpochResult(frames, time.perf_counter() - started, math.nan, finite=False)
        frames += batch.frames
        grad_norms.append(step.grad_norm)
    return EpochResult(frames, time.perf_counter() - started, float(np.mean(grad_norms)), True)


def _end_epoch(
    session: Session,
    result: EpochResult,
    on_train: SplitResult | None,
    on_valid: SplitResult,
    seconds: float,
) -> None:
    """Book-keeping after an epoch: history row, timing, early-stopping state, best weights."""
    state = session.state
    progression = state.progression
    progression.epoch += 1
    progression.wall_time_s += seconds
    progression.train_time_s += result.seconds
    progression.train_frames += result.frames
    progression.history.append(
        {
            "epoch": progression.epoch,
            "wall_time_s": round(progression.wall_time_s, 3),
            "nll_train": on_train.nll if on_train is not None else None,  # blank in the CSV
            "nll_valid": on_valid.nll,
            "lr": epoch_lr(session.config, progression.epoch),
            "grad_norm": result.grad_norm,
        }
    )
    if on_valid.nll < progression.best_nll_valid:
        progression.best_nll_valid = on_valid.nll
        progression.best_epoch = progression.epoch
        progression.bad_epochs = 0
        state.best_model = _weights_copy(state.model)
    else:
        progression.bad_epochs += 1


def _weights_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A snapshot of the model's weights that later steps do not change."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def _finish(session: Session, status: Status) -> RunMetrics:
    """Write the final record. ok, and diverged after at least one finished epoch: evaluate the
    best weights (by validation NLL) on all splits, as early stopping does. An ok run's checkpoint
    is marked finished; otherwise the last one is kept (interrupted: to resume; diverged: for
    inspection). The finished checkpoint keeps both the best weights and the last epoch's."""
    config, state, run_dir = session.config, session.state, session.run_dir
    results: dict[str, SplitResult] = {}
    if status == "ok" or (status == "diverged" and state.progression.best_epoch > 0):
        session.report(_event("final", session))
        last = _weights_copy(state.model)
        state.model.load_state_dict(state.best_model)
        for split in SPLITS:
            results[split] = evaluate(
                state.model, session.data[split], session.device, config.train.eval_batch_size
            )
        state.model.load_state_dict(last)
        rows = [(split, *row) for split in SPLITS for row in results[split].per_sequence]
        record.write_per_sequence(run_dir, rows)
    if status == "ok":
        record.save_checkpoint(run_dir, to_checkpoint(state, config, finished=True))
    metrics = _metrics(
        config, run_dir, state, status, session.device, results, data_digest=session.data_digest
    )
    record.write_metrics(run_dir, metrics)
    return metrics


def _metrics(  # noqa: PLR0917
    config: Config,
    run_dir: Path,
    state: RunState,
    status: Status,
    device: torch.device,
    results: dict[str, SplitResult],
    *,
    data_digest: str | None = None,
) -> RunMetrics:
    progression = state.progression
    best = progression.best_nll_valid

    def split_value(split: str, key: str, fallback: float | None = None) -> float | None:
        return getattr(results[split], key) if split in results else fallback

    extra: dict[str, Any] = {  # beyond the schema: RunMetrics allows extra fields
        "frame_acc_valid": split_value("valid", "frame_accuracy"),
        "frame_acc_train": split_value("train", "frame_accuracy"),
        "num_threads": torch.get_num_threads(),
    }
    return RunMetrics(
        run_id=run_dir.name,
        status=status,
        dataset=config.data.name,
        cell=config.model.cell,
        variant=config.model.variant,
        hidden_size=config.model.hidden_size,
        params_recurrent=params_recurrent(state.model),
        params_total=params_total(state.model),
        lr=config.optim.lr,
        seed=config.seed,
        batch_size=config.train.batch_size,
        weight_noise=config.optim.weight_noise,
        epochs=progression.epoch,
        best_epoch=progression.best_epoch,
        nll_train=split_value("train", "nll"),
        nll_valid=split_value("valid", "nll", best if math.isfinite(best) else None),
        nll_test=split_value("test", "nll"),
        nll_train_seqmean=split_value("train", "nll_seqmean"),
        nll_valid_seqmean=split_value("valid", "nll_seqmean"),
        nll_test_seqmean=split_value("test", "nll_seqmean"),
        frame_acc_test=split_value("test", "frame_accuracy"),
        wall_time_s=round(progression.wall_time_s, 3),
        frames_per_s=progression.train_frames / max(progression.train_time_s, 1e-9),
        device=str(device),
        torch_version=torch.__version__,
        rnnbench_version=__version__,
        config_hash=config_hash(config),
        data_digest=data_digest,
        cell_origin=_cell_origin(config),
        **extra,
    )


def _cell_origin(config: Config) -> CellOrigin | None:
    plugin = get_cell(config.model.cell).plugin
    return CellOrigin.model_validate(plugin.origin()) if plugin is not None else None


def _last_train_nll(history: list[dict[str, Any]]) -> float | None:
    """The most recent training-split NLL in the history (some epochs skip it)."""
    for row in reversed(history):
        if row.get("nll_train") is not None:
            return float(row["nll_train"])
    return None


def _event(stage: Literal["start", "epoch", "final"], session: Session) -> Progress:
    progression = session.state.progression
    last = progression.history[-1] if progression.history else {}
    best = progression.best_nll_valid
    return Progress(
        stage=stage,
        epoch=progression.epoch,
        max_epochs=session.config.train.max_epochs,
        elapsed_s=progression.wall_time_s,
        nll_train=_last_train_nll(progression.history),
        nll_valid=last.get("nll_valid"),
        best_epoch=progression.best_epoch,
        best_nll_valid=best if math.isfinite(best) else None,
    )

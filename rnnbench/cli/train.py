"""`rnnbench train` and `rnnbench sample`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rnnbench.cli._common import check_directory, check_tempo, err, out, report_errors
from rnnbench.cli._prepare import (
    MirrorOption,
    OfflineOption,
    engine_builds_reported,
    fetch_missing_datasets,
)
from rnnbench.cli._signals import interrupts_raise
from rnnbench.errors import UsageError

if TYPE_CHECKING:
    from rnnbench.config import Config
    from rnnbench.records import RunMetrics
    from rnnbench.train import Progress

EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("train")(train_command)
    app.command("sample")(sample_command)


@report_errors
def train_command(  # noqa: PLR0917
    config_path: Annotated[
        Path | None, typer.Argument(metavar="CONFIG", help="YAML config (omit with --resume).")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", metavar="KEY=VALUE", help="Override a config field, e.g. optim.lr=0.003."
        ),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="Write the run record exactly here.")
    ] = None,
    results_dir: Annotated[
        Path | None,
        typer.Option(
            "--results-dir",
            help="Write the run into DIR/runs/<run_id>/ \\[default: runs/train/<run_id>].",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", metavar="RUN_DIR", help="Continue an interrupted run."),
    ] = None,
    mirror: MirrorOption = None,
    offline: OfflineOption = False,
) -> None:
    """Train one model from a YAML config and leave a run record; prints a result summary.

    A built-in dataset that is not downloaded yet is fetched first (as `rnnbench data download`).
    """
    config, target = _resolve_run(config_path, overrides or [], run_dir, results_dir, resume)
    with interrupts_raise():
        try:
            metrics = _train(config, target, resume is not None, mirror, offline)
        except KeyboardInterrupt:
            err.print("interrupted before training started", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    _print_summary(metrics, target)
    if metrics.status == "diverged":
        kept = (
            f"best weights (epoch {metrics.best_epoch}) evaluated"
            if metrics.nll_test is not None
            else "no epoch finished"
        )
        err.print(
            f"error: training diverged at epoch {metrics.epochs + 1} (NaN/inf loss or gradient);"
            f" {kept}; record kept",
            highlight=False,
        )
        raise typer.Exit(1)
    if metrics.status == "interrupted":
        err.print(f"interrupted: continue with  rnnbench train --resume {target}", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED)


DEFAULT_RUNS_DIR = Path("runs/train")  # ignored by git: a user's runs stay out of results/


def _train(
    config: Config, target: Path, resume: bool, mirror: list[str] | None, offline: bool
) -> RunMetrics:
    """Fetch the dataset if missing, then train (an engine build is said, and not timed)."""
    from rnnbench.train import train
    from rnnbench.train.setup import run_device

    run_device(config)  # a device that is not there is a config error before any download
    fetch_missing_datasets([(config.data.name, config.data.data_dir)], mirror, offline)
    with engine_builds_reported(), _ProgressView(target) as view:
        return train(config, target, resume=resume, progress=view.update)


def _resolve_run(
    config_path: Path | None,
    overrides: list[str],
    run_dir: Path | None,
    results_dir: Path | None,
    resume: Path | None,
) -> tuple[Config, Path]:
    from rnnbench.config import load_config
    from rnnbench.records import CONFIG_FILE

    if resume is not None:
        if config_path is not None or overrides or run_dir or results_dir:
            raise UsageError("--resume RUN_DIR takes no CONFIG, --set, --run-dir or --results-dir")
        if not (resume / CONFIG_FILE).is_file():
            raise UsageError(f"{resume}: not a run directory (no {CONFIG_FILE})")
        return load_config(resume / CONFIG_FILE), resume
    if config_path is None:
        raise UsageError("missing CONFIG (or --resume RUN_DIR)")
    if run_dir is not None and results_dir is not None:
        raise UsageError("give --run-dir or --results-dir, not both")
    check_directory("--run-dir", run_dir)
    check_directory("--results-dir", results_dir)
    config = load_config(config_path, overrides)
    if run_dir is not None:
        return config, run_dir
    parent = results_dir / "runs" if results_dir is not None else DEFAULT_RUNS_DIR
    return config, parent / _run_id(config)


def _run_id(config: Config) -> str:
    from rnnbench.config import config_hash

    stamp = time.strftime("%Y%m%d-%H%M%S")
    model = config.model
    return f"{stamp}-{config.data.name}-{model.cell}-{model.variant}-{config_hash(config)[:8]}"


class _ProgressView:
    """A live Rich progress bar on a terminal, else one plain line per epoch (both on stderr)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _ProgressView:
        if err.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("ETA"),  # to max_epochs: an upper bound, early stopping ends sooner
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=err,
                transient=True,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def update(self, event: Progress) -> None:
        status = _describe(event)
        if event.stage == "start":
            resumed = f" (resuming after epoch {event.epoch})" if event.epoch else ""
            err.print(f"run dir: {self.run_dir}{resumed}", highlight=False)
        if self.bar is None:
            if event.stage == "epoch":
                err.print(f"epoch {event.epoch}/{event.max_epochs}  {status}", highlight=False)
            elif event.stage == "final":
                err.print("evaluating the best weights on train/valid/test", highlight=False)
            return
        if self.task is None:
            self.task = self.bar.add_task("train", total=event.max_epochs, status=status)
        self.bar.update(self.task, completed=event.epoch, status=status)


def _describe(event: Progress) -> str:
    if event.nll_valid is None:
        return "starting" if event.stage == "start" else ""
    train = "-" if event.nll_train is None else f"{event.nll_train:.3f}"
    return (
        f"train {train}  valid {event.nll_valid:.3f}  "
        f"best {event.best_nll_valid:.3f} @{event.best_epoch}  {event.elapsed_s:.0f}s"
    )


def _print_summary(metrics: RunMetrics, run_dir: Path) -> None:
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    lines = [
        ("run", str(run_dir)),
        ("status", metrics.status),
        (
            "model",
            f"{metrics.cell} ({metrics.variant}), {metrics.hidden_size} units, "
            f"{metrics.params_recurrent} recurrent / {metrics.params_total} total parameters",
        ),
        ("dataset", metrics.dataset),
        ("nll test", f"{number(metrics.nll_test)} nats/frame"),
        ("nll valid", number(metrics.nll_valid)),
        ("nll train", number(metrics.nll_train)),
        ("frame acc", number(metrics.frame_acc_test)),
        ("epochs", f"{metrics.epochs} (best {metrics.best_epoch})"),
        (
            "time",
            f"{metrics.wall_time_s:.1f} s, {metrics.frames_per_s:.0f} train frames/s"
            f" on {metrics.device}",
        ),
    ]
    for name, value in lines:
        out.print(f"{name:<10} {value}", highlight=False)


@report_errors
def sample_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A finished training run.")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Frames to generate.")] = 128,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=2**63 - 1, help="Seed of the Bernoulli draws.")
    ] = 0,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="MIDI file to write \\[default: RUN_DIR/sample-SEED.mid]."),
    ] = None,
    bpm: Annotated[
        float, typer.Option("--bpm", help="Tempo (frames per beat come from the dataset).")
    ] = 120.0,
) -> None:
    """Draw a piano-roll from a trained model (note by note Bernoulli) and write it as MIDI."""
    from rnnbench.data import roll_to_midi
    from rnnbench.train.sample import load_trained, sample_roll, steps_per_beat

    check_tempo("--bpm", bpm)

    config, model = load_trained(run_dir)
    roll = sample_roll(model, steps, seed)
    target = out_path or run_dir / f"sample-{seed}.mid"
    roll_to_midi(roll, target, steps_per_beat=steps_per_beat(config), tempo=bpm)
    out.print(
        f"{target}  ({steps} frames, {int(roll.sum())} note-frames, "
        f"{roll.any(axis=1).mean():.0%} of frames sounding)",
        highlight=False,
    )

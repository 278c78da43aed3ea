"""`rnnbench sweep` and `rnnbench reproduce`: the paper's learning-rate search, resumable."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rnnbench.cli._common import (
    check_directory,
    err,
    out,
    print_table,
    report_errors,
    whole_numbers,
)
from rnnbench.cli._prepare import (
    MirrorOption,
    OfflineOption,
    engine_builds_reported,
    fetch_missing_datasets,
)
from rnnbench.cli._signals import interrupts_raise

if TYPE_CHECKING:
    from rnnbench.sweep import (
        Executor,
        SweepObserver,
        SweepProgress,
        SweepResult,
        SweepSpec,
        Trial,
    )


class ExecutorName(StrEnum):
    local = "local"
    ray = "ray"


class Variant(StrEnum):
    paper = "paper"
    fused = "fused"


DatasetsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--datasets",
        help="jsb, nottingham, musedata, piano-midi (repeat or comma-separate).",
    ),
]
CellsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--cells",
        help="tanh, gru, lstm, or pkg.module:Class / an entry point (repeat or comma-separate).",
    ),
]
TrialsOption = Annotated[
    int, typer.Option("--trials", help="Learning rates per pair: exp(U(-12,-6)).")
]
SeedsOption = Annotated[int, typer.Option("--seeds", help="Seeds 0..K-1 per learning rate.")]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", help="Trials at once (default: one per core)."),
]
ExecutorOption = Annotated[ExecutorName, typer.Option("--executor", help="Where trials run.")]
RayAddressOption = Annotated[
    str | None,
    typer.Option("--ray-address", help="Join this Ray cluster (default: local Ray)."),
]
SweepSeedOption = Annotated[int, typer.Option("--sweep-seed", help="Seed of the lr draws.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override in every trial: a.b=value."),
]
ExtendOption = Annotated[
    bool,
    typer.Option("--extend", help="Add new trials to an existing list."),
]
BestSeedsOption = Annotated[
    int,
    typer.Option(
        "--best-seeds",
        help="After a pair's search: seeds 0..K-1 at its chosen lr (best valid NLL).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("sweep")(sweep)
    app.command("reproduce")(reproduce)


@report_errors
def sweep(  # noqa: PLR0917
    config: Annotated[
        Path | None,
        typer.Argument(help="Config file, or dir of <dataset>-<cell>.yaml."),
    ] = None,
    trials: TrialsOption = 10,
    seeds: SeedsOption = 1,
    datasets: DatasetsOption = None,
    cells: CellsOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = ExecutorName.local,
    ray_address: RayAddressOption = None,
    results_dir: Annotated[Path, typer.Option("--results-dir", help="Trial list and runs.")] = Path(
        "runs/sweep"
    ),
    sweep_seed: SweepSeedOption = 0,
    overrides: SetOption = None,
    extend: ExtendOption = False,
    best_seeds: BestSeedsOption = 0,
    mirror: MirrorOption = None,
    offline: OfflineOption = False,
) -> None:
    """Search learning rates: materialize the trial list, then run every unfinished trial once.

    Re-running the same command resumes: finished trials (ok or diverged) are skipped,
    partial ones restart. A missing built-in dataset is fetched first, once.
    """
    from rnnbench.sweep import SweepSpec, expand_bases

    _check_ray_address(executor, ray_address)
    spec = SweepSpec(
        bases=tuple(expand_bases(config, datasets, cells)),
        trials=trials,
        seeds=seeds,
        sweep_seed=sweep_seed,
        overrides=tuple(overrides or ()),
    )
    prepare = _preparation(mirror, offline, remote=ray_address is not None)
    outcome = _run(
        spec, results_dir, executor, workers, ray_address, extend, best_seeds, prepare=prepare
    )
    if outcome.failed:
        raise typer.Exit(1)


@report_errors
def reproduce(  # noqa: PLR0917
    datasets: DatasetsOption = None,
    cells: CellsOption = None,
    trials: Annotated[
        int | None,
        typer.Option("--trials", help="Learning rates per pair: exp(U(-12,-6)) [default: 10]."),
    ] = None,
    seeds: SeedsOption = 1,
    variant: Annotated[
        Variant, typer.Option("--variant", help="Cell implementation.")
    ] = Variant.paper,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="The protocol cut short: 1 committed lr per pair, its epochs (~7 min).",
        ),
    ] = False,
    results_dir: Annotated[
        Path, typer.Option("--results-dir", help="Runs, table2.md, figures/.")
    ] = Path("runs/reproduce"),
    workers: WorkersOption = None,
    executor: ExecutorOption = ExecutorName.local,
    ray_address: RayAddressOption = None,
    sweep_seed: SweepSeedOption = 0,
    overrides: SetOption = None,
    extend: ExtendOption = False,
    best_seeds: BestSeedsOption = 0,
    mirror: MirrorOption = None,
    offline: OfflineOption = False,
) -> None:
    """The paper's Table 2: sweep configs/paper, then compare with the paper's values, and plot.

    `--best-seeds 5` then runs 5 seeds at each pair's chosen learning rate, for intervals.
    """
    from rnnbench.sweep import reproduce_spec

    _check_ray_address(executor, ray_address)
    spec = reproduce_spec(
        datasets,
        cells,
        trials=trials,
        seeds=seeds,
        variant=variant.value,
        quick=quick,
        sweep_seed=sweep_seed,
        overrides=tuple(overrides or ()),
    )
    prepare = _preparation(mirror, offline, remote=ray_address is not None)
    outcome = _run(
        spec, results_dir, executor, workers, ray_address, extend, best_seeds, prepare=prepare
    )
    if outcome.done:
        _report(results_dir, quick)
    else:
        err.print("no trial finished: no table to write", highlight=False)
    if outcome.failed:
        raise typer.Exit(1)


def _report(results_dir: Path, quick: bool) -> None:
    from rnnbench.sweep.report import write_reproduction_report
    from rnnbench.sweep.reproduce import QUICK_NOTE

    report = write_reproduction_report(results_dir, QUICK_NOTE if quick else None, quick=quick)
    out.print(report.table_markdown, markup=False, highlight=False)
    if report.stats_note:
        err.print(report.stats_note, markup=False, highlight=False)
    err.print(
        f"wrote {report.table_path} and {len(report.figures)} figure(s) in {report.figures_dir}",
        markup=False,
        highlight=False,
    )


@dataclass(frozen=True)
class RunOutcome:
    done: int  # trials finished (ok or diverged), earlier ones included
    failed: int  # trials that crashed


def _run(  # noqa: PLR0917
    spec: SweepSpec,
    results_dir: Path,
    executor_name: ExecutorName,
    workers: int | None,
    ray_address: str | None,
    extend: bool,
    best_seeds: int = 0,
    *,
    prepare: Callable[[Sequence[Trial]], None] | None = None,
) -> RunOutcome:
    """The search, then (with best_seeds) the seeds at each finished pair's chosen lr."""
    from rnnbench.sweep import make_executor, materialize, run_sweep
    from rnnbench.sweep.trials import MAX_SEEDS

    check_directory("--results-dir", results_dir)
    if not 0 <= best_seeds <= MAX_SEEDS:
        raise _usage(f"--best-seeds must be between 0 and {MAX_SEEDS}, got {best_seeds}")
    trials = materialize(spec)
    executor = make_executor(executor_name.value, workers, ray_address)
    pairs = len({(trial.dataset, trial.cell) for trial in trials})
    err.print(
        f"{len(trials)} trials over {pairs} (dataset, cell) pair(s) -> {results_dir}",
        markup=False,
        highlight=False,
    )
    view = LiveView() if err.is_terminal else PlainView()
    try:
        with view, interrupts_raise(sigterm=True):  # SIGTERM: a scheduler stops it like Ctrl-C
            result = run_sweep(trials, results_dir, executor, view, extend=extend, prepare=prepare)
            seeded = _run_best_seeds(
                trials, results_dir, executor, view, best_seeds, prepare=prepare
            )
    except KeyboardInterrupt:
        err.print("interrupted: finished trials are kept; run the same command again to resume")
        raise typer.Exit(130) from None
    _print_reconciled(result, seeds_listed=best_seeds > 1)
    _print_summary(result, trials)
    outcome = RunOutcome(result.progress.done, len(result.progress.failed))
    if seeded is not None:
        _print_totals("seed trials", seeded.progress)
        progress = seeded.progress
        outcome = RunOutcome(outcome.done + progress.done, outcome.failed + len(progress.failed))
    return outcome


def _check_ray_address(executor_name: ExecutorName, ray_address: str | None) -> None:
    """First of all (before torch is imported, ~10 s on a busy machine): a Ray address that does
    not answer is one line in seconds, not Ray's ~14-minute wait."""
    if not ray_address:
        return
    if executor_name is not ExecutorName.ray:
        raise _usage("--ray-address needs --executor ray")
    from rnnbench.sweep.ray_executor import check_reachable

    check_reachable(ray_address)


def _run_best_seeds(
    search: Sequence[Trial],
    results_dir: Path,
    executor: Executor,
    view: SweepObserver,
    best_seeds: int,
    *,
    prepare: Callable[[Sequence[Trial]], None] | None = None,
) -> SweepResult | None:
    """Seeds at the chosen learning rates (added to the trial list); None if there are none."""
    from rnnbench.sweep import run_sweep
    from rnnbench.sweep.seeds import best_seed_trials

    if best_seeds <= 1:
        return None
    plan = best_seed_trials(search, results_dir, best_seeds)
    for pair in plan.waiting:
        err.print(f"{pair}: search unfinished, no --best-seeds runs yet", markup=False)
    if not plan.trials:
        return None
    err.print(f"{len(plan.trials)} seed trials at the chosen learning rates", markup=False)
    return run_sweep(plan.trials, results_dir, executor, view, extend=True, prepare=prepare)


def _preparation(
    mirror: list[str] | None, offline: bool, *, remote: bool
) -> Callable[[Sequence[Trial]], None]:
    """What runs once before the workers start: fetch the missing datasets of the trials to run,
    and build the engine (not on a remote Ray cluster, whose nodes build their own)."""

    def prepare(trials: Sequence[Trial]) -> None:
        from rnnbench.config import Config
        from rnnbench.train.setup import warm_up_models

        datasets = [(trial.config["data"]["name"], trial.config["data"].get("data_dir"))
                    for trial in trials]  # fmt: skip
        fetch_missing_datasets(datasets, mirror, offline)
        if not remote:
            with engine_builds_reported():
                warm_up_models(Config.model_validate(trial.config) for trial in trials)

    return prepare


def _usage(message: str) -> Exception:
    from rnnbench.errors import UsageError

    return UsageError(message)


def _print_reconciled(result: SweepResult, seeds_listed: bool = False) -> None:
    """seeds_listed: the list also holds this command's --best-seeds trials (not a subset run)."""
    reconciled = result.reconciled
    if reconciled.subset and not seeds_listed:
        listed = f"{result.results_dir}/trials.json"
        err.print(f"ran part of the {reconciled.stored} trials listed in {listed}", markup=False)
    if reconciled.stored and reconciled.added:
        listed = f"{result.results_dir}/trials.json"
        err.print(f"added {reconciled.added} trials to {listed} (--extend)", markup=False)


class PlainView:
    """Not a terminal: one line per trial start and outcome."""

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, progress: SweepProgress, line: str | None) -> None:
        if line is not None:
            err.print(f"[{progress.done}/{progress.total}] {line}", markup=False, highlight=False)


class LiveView:
    """A terminal: live done / running / failed, best valid NLL per pair, ETA (stderr)."""

    def __init__(self) -> None:
        self.live = Live(console=err, refresh_per_second=4, transient=True)
        self.started = time.monotonic()

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, progress: SweepProgress, line: str | None) -> None:
        if line is not None:
            self.live.console.print(line, markup=False, highlight=False)
        self.live.update(render_progress(progress, time.monotonic() - self.started))


def render_progress(progress: SweepProgress, elapsed_s: float) -> RenderableType:
    eta = progress.eta_s()
    status = Text.assemble(
        ("done ", "bold"),
        f"{progress.done}/{progress.total}",
        ("  running ", "bold"),
        str(len(progress.running)),
        ("  failed ", "bold"),
        (str(len(progress.failed)), "red" if progress.failed else ""),
        ("  diverged ", "bold"),
        str(progress.diverged),
        ("  elapsed ", "bold"),
        _duration(elapsed_s),
        ("  ETA ", "bold"),
        _duration(eta) if eta is not None else "?",
    )
    running = [f"  running {trial.describe()}" for trial in progress.running.values()]
    return Group(status, _best_table(progress), Text("\n".join(running)))


def _best_table(progress: SweepProgress) -> Table:
    table = Table("dataset", "cell", "best valid NLL", "lr", "trial", box=None, pad_edge=False)
    for column in table.columns[2:4]:
        column.justify = "right"
    for (dataset, cell), best in sorted(progress.best.items()):
        table.add_row(dataset, cell, f"{best.nll_valid:.3f}", f"{best.lr:.3g}", best.trial_id)
    return whole_numbers(table, err)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _print_summary(result: SweepResult, trials: Sequence[Trial]) -> None:
    progress = result.progress
    table = Table(
        "dataset", "cell", "trials", "best valid NLL", "lr", "trial", title="sweep summary"
    )
    for column in table.columns[2:5]:
        column.justify = "right"
    for dataset, cell in dict.fromkeys((trial.dataset, trial.cell) for trial in trials):
        count = sum(1 for trial in trials if (trial.dataset, trial.cell) == (dataset, cell))
        best = progress.best.get((dataset, cell))
        cells = (
            (f"{best.nll_valid:.3f}", f"{best.lr:.3g}", best.trial_id) if best else ("-", "-", "-")
        )
        table.add_row(dataset, cell, str(count), *cells)
    print_table(table)
    _print_totals("trials", progress)


def _print_totals(what: str, progress: SweepProgress) -> None:
    out.print(
        f"{progress.total} {what}: {progress.skipped} finished earlier, {progress.ok} ok, "
        f"{progress.diverged} diverged, {len(progress.failed)} failed, "
        f"{progress.interrupted} interrupted",
        highlight=False,
    )
    for trial, error in progress.failed:
        err.print(
            Text.assemble(("failed ", "bold red"), f"{trial.trial_id}: {error}"), highlight=False
        )

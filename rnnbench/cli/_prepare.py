"""What a command does before its work starts, said on stderr: fetch missing built-in datasets
(`data download`, `train`, `sweep`, `reproduce`) and build the engine (a one-off per machine and
torch install), so neither is timed as training."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from rnnbench.cli._common import err

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from rnnbench.data.download import FetchEvent
    from rnnbench.engine.native import BuildEvent

MirrorOption = Annotated[
    list[str] | None,
    typer.Option(
        "--mirror",
        help="Folder or base URL holding the dataset files (repeatable; tried first).",
    ),
]
OfflineOption = Annotated[
    bool,
    typer.Option("--offline", help="Use only the mirrors, never the public addresses."),
]


def labelled(label: str, style: str, message: str) -> Text:
    """A styled label then plain text (never parsed as markup: paths may hold brackets)."""
    return Text.assemble((label, style), f" {message}" if message else "")


class FetchReport:
    """Fetch events on stderr: a progress bar per source on a terminal, and one line per dataset
    fetched, after the sources skipped on the way. When every source fails, nothing is printed
    here: the error names each one once."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.skipped: list[str] = []

    def __call__(self, event: FetchEvent) -> None:
        label = f"{event.dataset}: {Path(event.location).name}"
        if event.kind == "start":
            self.tasks[event.location] = self.progress.add_task(label, total=event.total)
        elif event.kind == "progress":
            self.progress.update(self.tasks[event.location], completed=event.done)
        elif event.kind == "failed":
            if event.location in self.tasks:
                self.progress.remove_task(self.tasks.pop(event.location))
            self.skipped.append(f"{event.location}: {event.message}")
        elif event.kind == "done":
            for line in self.skipped:
                self.progress.console.print(labelled("skipped", "yellow", line))
            self.skipped.clear()
            where = f" into {event.message}" if event.message else ""
            self.progress.console.print(
                labelled(
                    "fetched",
                    "green",
                    f"{event.dataset} from {event.location}{where} "
                    "(sha256 and content digest verified)",
                )
            )


@contextlib.contextmanager
def fetch_report() -> Iterator[FetchReport]:
    """A FetchReport on stderr (progress bars only on a terminal)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(
        *columns, TransferSpeedColumn(), console=err, transient=True, disable=not err.is_terminal
    ) as progress:
        yield FetchReport(progress)


def fetch_missing_datasets(
    datasets: Iterable[tuple[str, str | Path | None]],
    mirror: list[str] | None,
    offline: bool,
) -> None:
    """Fetch each (name, data dir) whose built-in dataset is not cached yet, once, verified as
    `rnnbench data download` does; a dataset that is cached or imported is left to `load`."""
    from rnnbench.data import fetch_missing

    with fetch_report() as report:
        for name, data_dir in dict.fromkeys(datasets):
            fetch_missing(name, data_dir, mirror, offline=offline or None, progress=report)


def report_engine_build(event: BuildEvent) -> None:
    """The engine's one-off C++ build, while it happens (training waits for it, untimed)."""
    if event.stage == "start":
        err.print(
            f"building the rnnbench engine for torch {event.torch_version} (one-off: about "
            f"{event.typical_s:.0f} s on an idle core, minutes on a busy one)...",
            highlight=False,
        )
    else:
        err.print(
            f"built the rnnbench engine in {event.seconds:.1f} s ({event.directory})",
            markup=False,
            highlight=False,
        )


@contextlib.contextmanager
def engine_builds_reported() -> Iterator[None]:
    """Within the block, an engine build is announced on stderr when it starts and ends."""
    from rnnbench.engine.native import build_listener

    with build_listener(report_engine_build):
        yield

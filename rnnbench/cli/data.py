"""`rnnbench data`: list, download, info, verify, import-midi, export-midi.

Library imports (numpy, scipy, pretty_midi, pydantic) happen inside the commands: `--help` is fast.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from rnnbench.cli._common import check_tempo, err, out, print_table, report_errors
from rnnbench.cli._prepare import MirrorOption, OfflineOption, fetch_report, labelled
from rnnbench.errors import DataError, UsageError

data_app = typer.Typer(
    name="data",
    help="Datasets: download and verify the four benchmarks, inspect them, import/export MIDI.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $RNNBENCH_DATA_DIR, else ./data)."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(data_app, name="data")


def _plain(line: str) -> None:
    """A result line on stdout, printed literally."""
    out.print(line, markup=False, highlight=False)


def _cell(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _print_json(document: Any) -> None:
    out.print_json(json.dumps(document))


@data_app.command("list")
@report_errors
def list_command(format: FormatOption = OutputFormat.table, data_dir: DataDirOption = None) -> None:
    """Known datasets (built-in and imported): splits, frames, whether cached."""
    from rnnbench.data.catalog import catalog

    rows = catalog(data_dir)
    if format is OutputFormat.json:
        _print_json(rows)
        return
    table = Table("name", "title", "seqs tr/va/te", "frames", "kind", "cached")
    for column in table.columns[2:4]:
        column.justify = "right"
    for row in rows:
        sequences = "/".join(str(row["splits"][split]["sequences"]) for split in row["splits"])
        frames = sum(split["frames"] for split in row["splits"].values())
        cached = "[green]yes[/]" if row["cached"] else "no"
        table.add_row(row["name"], row["title"], sequences, f"{frames:,}", row["kind"], cached)
    print_table(table)


def _download_targets(
    names: list[str] | None, all_datasets: bool, data_dir: Path | None
) -> list[str]:
    from rnnbench.data import builtin_specs, resolve

    if all_datasets and names:
        raise UsageError("give dataset names or --all, not both")
    if all_datasets:
        return list(builtin_specs())
    if not names:
        raise UsageError("name at least one dataset (see `rnnbench data list`) or use --all")
    return [resolve(name, data_dir).name for name in names]


@data_app.command("download")
@report_errors
def download_command(
    *,
    names: Annotated[list[str] | None, typer.Argument(help="Dataset names or aliases.")] = None,
    all_datasets: Annotated[
        bool, typer.Option("--all", help="All four built-in datasets.")
    ] = False,
    mirror: MirrorOption = None,
    data_dir: DataDirOption = None,
    offline: OfflineOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Download even if a valid cache exists.")
    ] = False,
) -> None:
    """Download, verify (sha256 and content digest) and cache datasets, with ordered fallback."""
    from rnnbench.data import fetch

    targets = _download_targets(names, all_datasets, data_dir)
    failures: list[str] = []
    with fetch_report() as report:
        for name in targets:
            try:
                path = fetch(
                    name, data_dir, mirror, offline=offline or None, force=force, progress=report
                )
            except DataError as exc:
                if len(targets) == 1:
                    raise
                report.progress.console.print(labelled("error:", "bold red", str(exc)))
                failures.append(name)
                continue
            _plain(f"{name}  {path}")
    if failures:
        raise DataError(
            f"{len(failures)} of {len(targets)} dataset(s) failed: {', '.join(failures)}"
        )


@data_app.command("info")
@report_errors
def info_command(
    name: Annotated[str, typer.Argument(help="Dataset name or alias.")],
    format: FormatOption = OutputFormat.table,
    data_dir: DataDirOption = None,
) -> None:
    """Sizes, sequence lengths, polyphony and note range of a cached dataset."""
    from rnnbench.data import load
    from rnnbench.data.stats import dataset_stats

    document = dataset_stats(load(name, data_dir))
    if format is OutputFormat.json:
        _print_json(document)
        return
    low, high = document["note_range"]
    _plain(f"{document['name']}  {document['digest']}")
    out.print(f"notes {low}..{high} (MIDI), {document['steps_per_beat']} step(s) per beat")
    headers = {"sequences": "seqs", "frames": "frames", "length_min": "len min",
               "length_mean": "len mean", "length_max": "len max", "polyphony_mean": "poly mean",
               "polyphony_max": "poly max", "note_min": "low", "note_max": "high"}  # fmt: skip
    table = Table("split", *headers.values())
    for column in table.columns[1:]:
        column.justify = "right"
    for split, stats in document["splits"].items():
        table.add_row(split, *(_cell(stats[column]) for column in headers))
    print_table(table)


@data_app.command("verify")
@report_errors
def verify_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Datasets (default: every cached one).")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Re-check cached datasets against the registry: integrity, split sizes, content digest."""
    from rnnbench.data import resolve
    from rnnbench.data.catalog import cached_names, verify

    targets = [resolve(name, data_dir).name for name in names] if names else cached_names(data_dir)
    if not targets:
        raise DataError("nothing to verify: no dataset is cached (run `rnnbench data download`)")
    problems = 0
    for name in targets:
        problem = verify(name, data_dir)
        problems += problem is not None
        status = labelled("FAILED", "red", problem) if problem else labelled("ok", "green", "")
        out.print(Text.assemble(f"{name}  ", status), highlight=False)
    if problems:
        raise DataError(f"{problems} of {len(targets)} dataset(s) failed verification")


@data_app.command("import-midi")
@report_errors
def import_midi_command(
    path: Annotated[
        Path, typer.Argument(help="Folder or zip with train/, valid/, test/ MIDI files.")
    ],
    *,
    name: Annotated[str, typer.Option("--name", help="Name of the new dataset.")],
    steps_per_beat: Annotated[
        int,
        typer.Option("--steps-per-beat", help="Frames per beat (2 = eighth notes, 1 = quarters)."),
    ] = 2,
    data_dir: DataDirOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on a corrupt MIDI file.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an imported dataset of the same name.")
    ] = False,
) -> None:
    """Quantize MIDI files on their beat grid into a dataset usable wherever a name is accepted."""
    from rnnbench.data.importer import import_midi

    report = import_midi(
        path, name, steps_per_beat=steps_per_beat, data_dir=data_dir, strict=strict, force=force
    )
    for skipped in report.skipped:
        err.print(labelled("warning:", "yellow", f"skipped {skipped.reason}"))
    if report.dropped_notes:
        err.print(
            f"[yellow]warning:[/] dropped {report.dropped_notes} note(s) outside MIDI 21..108"
        )
    sizes = ", ".join(
        f"{split} {report.sequences[split]} ({report.frames[split]:,} frames)"
        for split in report.sequences
    )
    _plain(f"{name}  {report.cache}  {sizes}")


@data_app.command("export-midi")
@report_errors
def export_midi_command(
    *,
    name: Annotated[str, typer.Argument(help="Dataset name or alias.")],
    split: Annotated[str, typer.Option("--split", help="train, valid or test.")],
    index: Annotated[
        int, typer.Option("--index", help="Sequence index within the split (from 0).")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="MIDI file to write.")],
    tempo: Annotated[float, typer.Option("--tempo", help="Beats per minute.")] = 120.0,
    data_dir: DataDirOption = None,
) -> None:
    """Write one piano-roll as a MIDI file, to listen to the data."""
    from rnnbench.data import load
    from rnnbench.data.midi import roll_to_midi

    check_tempo("--tempo", tempo)
    dataset = load(name, data_dir)
    rolls = dataset.split(split)
    if not 0 <= index < len(rolls):
        raise UsageError(
            f"--index {index} out of range: {dataset.name}/{split} has {len(rolls)} sequences"
        )
    roll_to_midi(rolls[index], out_path, steps_per_beat=dataset.steps_per_beat, tempo=tempo)
    _plain(f"{out_path}  {len(rolls[index])} frames")

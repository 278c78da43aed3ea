"""`rnnbench bench`: training throughput of the suite's engine against plain torch."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from rnnbench.cli._common import err, out, print_table, report_errors


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"


class Format(StrEnum):
    table = "table"
    json = "json"


def bench(
    *,
    cells: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated cells: built-in, package.module:Class or an entry-point name "
            "(default: the paper's, tanh,gru,lstm)."
        ),
    ] = None,
    batch: Annotated[int, typer.Option(help="Sequences per batch.")] = 16,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Time steps per sequence.")] = 200,
    device: Annotated[Device, typer.Option(help="cpu, or cuda (needs a GPU).")] = Device.cpu,
    repeats: Annotated[int, typer.Option(help="Timed training steps per implementation.")] = 15,
    warmup: Annotated[int, typer.Option(help="Untimed steps first.")] = 3,
    threads: Annotated[
        int | None,
        typer.Option(help="torch intra-op threads (default: as training, train.num_threads: 1)."),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="table or json.")
    ] = Format.table,
) -> None:
    """Training frames/s (forward, backward, RMSProp step) at the paper sizes.

    Paper sizes: tanh 100, GRU 46, LSTM 36 units; 88 inputs and outputs. A plugin cell runs at
    its `hidden_size: auto` size beside torch's fused GRU at the paper's (docs/cells.md).
    """
    import torch

    from rnnbench.bench import (
        check_options,
        machine_info,
        parse_cells,
        resolve_device,
        rows_as_dicts,
        run_bench,
    )
    from rnnbench.cells import paper_cells
    from rnnbench.cli._prepare import engine_builds_reported
    from rnnbench.config import TrainConfig

    cell_names = parse_cells(cells if cells is not None else ",".join(paper_cells()))
    check_options(batch=batch, seq_len=seq_len, repeats=repeats, warmup=warmup, threads=threads)
    torch_device = resolve_device(device.value)
    training_default = TrainConfig.model_fields["num_threads"].default  # what runs train with
    torch.set_num_threads(threads or training_default)
    machine = machine_info(torch_device)
    err.print(
        f"bench: {', '.join(cell_names)} at batch {batch}, {seq_len} steps on {machine['cpu']}"
    )
    with engine_builds_reported():
        rows = run_bench(
            cell_names,
            batch=batch,
            seq_len=seq_len,
            device=torch_device,
            repeats=repeats,
            warmup=warmup,
        )
    if output_format is Format.json:
        out.print_json(json.dumps({"machine": machine, "rows": rows_as_dicts(rows)}))
        return
    _print_table(machine, rows_as_dicts(rows))


def _print_table(machine: dict[str, object], rows: list[dict[str, object]]) -> None:
    from rich.table import Table

    title = (
        f"{machine['cpu']} · {machine['cores']} cores · {machine['torch_threads']} torch threads · "
        f"torch {machine['torch']} · oneDNN {machine['onednn']}"
    )
    if machine["gpu"]:
        title += f" · {machine['gpu']} · cuDNN {machine['cudnn']}"
    table = Table(title=title, title_justify="left")
    for column in ("cell", "impl", "H", "B×T", "step ms", "frames/s", "× torch-fused"):
        if column in ("cell", "impl"):  # a plugin's import path is long: wrap it, never cut it
            table.add_column(column, justify="left", overflow="fold")
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row["cell"]),
            str(row["impl"]),
            str(row["hidden_size"]),
            f"{row['batch']}×{row['seq_len']}",
            f"{row['median_step_ms']:.1f}",
            f"{row['frames_per_s']:,.0f}",
            f"{row['ratio_vs_torch_fused']:.2f}",
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("bench")(report_errors(bench))

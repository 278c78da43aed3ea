"""The `rnnbench` command line. Each sub-module registers its own commands.

Only light modules are imported here (typer, rich, the standard library) so that
`rnnbench --help` stays fast; torch, pandas and matplotlib are imported inside commands.
"""

from __future__ import annotations

import typer

from rnnbench import __version__
from rnnbench.cli import bench, compare, data, sweep, train

app = typer.Typer(
    name="rnnbench",
    help=(
        "Reproduce and regression-test Chung et al. 2014: "
        "tanh-RNN vs GRU vs LSTM on polyphonic music."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnnbench {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """rnnbench: the paper's Table 2 from one command, and a regression gate for RNN code."""


for module in (data, train, compare, sweep, bench):
    module.register(app)


def main() -> None:
    app()

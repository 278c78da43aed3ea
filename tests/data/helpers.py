"""Shared by the data tests: `rnnbench data ...` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rnnbench.cli import app

runner = CliRunner()


def run_data(*args: str | Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `rnnbench data ARGS`."""
    result = runner.invoke(app, ["data", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr

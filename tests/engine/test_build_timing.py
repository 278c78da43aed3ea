"""The engine's one-off C++ build happens before a run's clock starts, and is said on stderr."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnbench.engine.native import current_build_name, native
from rnnbench.records import HISTORY_FILE, read_metrics
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

SMOKE = str(REPO_ROOT / "configs" / "smoke.yaml")
TINY = ["--set", "data.max_sequences=6", "--set", "model.hidden_size=8"]
TINY += ["--set", "train.max_epochs=2"]
BUILT = re.compile(r"built the rnnbench engine in ([\d.]+) s \((.+)\)")


def train(data_dir: Path, run_dir: Path, extensions: Path) -> list[str]:
    """`rnnbench train` in a fresh process whose extension cache is `extensions`: its stderr."""
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(extensions), "RNNBENCH_NATIVE": "1"}
    command = [sys.executable, "-m", "rnnbench", "train", SMOKE, "--run-dir", str(run_dir)]
    command += ["--set", f"data.data_dir={data_dir}", *TINY]
    finished = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return [line for line in finished.stderr.splitlines() if line.strip()]


def test_a_fresh_build_is_reported_and_kept_out_of_the_run_time(
    data_dir_all: Path, tmp_path: Path
) -> None:
    if native() is None:
        pytest.skip("compiled kernels unavailable (no C++ compiler?)")
    extensions = tmp_path / "extensions"  # empty: this run compiles the engine
    lines = train(data_dir_all, tmp_path / "first", extensions)
    assert lines[0].startswith(f"building the rnnbench engine for torch {torch.__version__} ")
    built = BUILT.fullmatch(lines[1])
    assert built, lines
    assert Path(built[2]) == extensions / current_build_name()
    assert lines[2] == f"run dir: {tmp_path / 'first'}"  # the run's clock starts after the build

    build_s = float(built[1])
    with (tmp_path / "first" / HISTORY_FILE).open() as handle:
        first_epoch_s = float(next(csv.DictReader(handle))["wall_time_s"])
    assert first_epoch_s < build_s / 3, (first_epoch_s, build_s)
    assert read_metrics(tmp_path / "first").wall_time_s < build_s / 3

    again = train(data_dir_all, tmp_path / "second", extensions)  # the same install: no rebuild
    assert again[0] == f"run dir: {tmp_path / 'second'}"
    assert not any("building" in line for line in again)

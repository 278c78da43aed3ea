from __future__ import annotations

from pathlib import Path

import pytest

from rnnbench.records import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE
from rnnbench.sweep.state import TrialState, inspect_run_dir
from tests.sweep.helpers import write_metrics


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("ok", TrialState.FINISHED),
        ("diverged", TrialState.FINISHED),
        ("interrupted", TrialState.PARTIAL),
        ("running", TrialState.PARTIAL),
    ],
)
def test_status_decides_whether_a_trial_runs_again(
    tmp_path: Path, status: str, expected: TrialState
) -> None:
    write_metrics(tmp_path / "run", status)
    state = inspect_run_dir(tmp_path / "run")
    assert state.state is expected
    assert (state.metrics is not None) == (expected is TrialState.FINISHED)


def test_no_directory_is_new(tmp_path: Path) -> None:
    assert inspect_run_dir(tmp_path / "missing").state is TrialState.NEW


def test_a_started_run_without_metrics_is_partial_and_resumes_from_its_checkpoint(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / CONFIG_FILE).write_text("seed: 0\n")
    assert inspect_run_dir(run_dir).has_checkpoint is False
    (run_dir / CHECKPOINT_FILE).write_bytes(b"weights")
    state = inspect_run_dir(run_dir)
    assert (state.state, state.has_checkpoint) == (TrialState.PARTIAL, True)


def test_an_unreadable_metrics_file_is_partial_not_finished(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / METRICS_FILE).write_text('{"status": "ok"')
    assert inspect_run_dir(run_dir).state is TrialState.PARTIAL

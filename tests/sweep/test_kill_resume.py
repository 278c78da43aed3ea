"""A real `rnnbench sweep` process interrupted (SIGINT), killed (SIGKILL), then resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.records import read_metrics
from rnnbench.sweep.runner import EVENTS_FILE
from rnnbench.sweep.state import TrialState, inspect_run_dir
from rnnbench.sweep.trial_list import TRIALS_JSON
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

JSB_GRU = REPO_ROOT / "configs" / "paper" / "jsb-gru.yaml"
TRIALS, SEEDS = 3, 2
ARGS = [
    "sweep", str(JSB_GRU), "--trials", str(TRIALS), "--seeds", str(SEEDS), "--workers", "2",
    "--set", "model.hidden_size=8", "--set", "train.max_epochs=3", "--set", "data.max_sequences=40",
]  # fmt: skip
TIMEOUT_S = 120.0


def finished(results: Path) -> set[str]:
    runs = results / "runs"
    if not runs.is_dir():
        return set()
    return {run.name for run in runs.iterdir() if inspect_run_dir(run).state is TrialState.FINISHED}


def stamps(results: Path, trial_ids: set[str]) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(results)): (path.stat().st_mtime_ns, path.read_bytes())
        for trial_id in sorted(trial_ids)
        for path in sorted((results / "runs" / trial_id).iterdir())
        if path.is_file()
    }


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert process.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline, "no trial finished in time"
        time.sleep(0.05)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start(results: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The sweep in its own session, started with SIGINT ignored (as a background job of a
    non-interactive shell starts): it must handle SIGINT itself, whatever the runner inherited."""
    command = [sys.executable, "-m", "rnnbench", *ARGS, "--results-dir", str(results)]
    with log.open("ab") as handle:
        return subprocess.Popen(
            command,
            env=env,
            stdout=handle,
            stderr=handle,
            start_new_session=True,
            preexec_fn=_ignore_sigint,  # noqa: PLW1509
        )


def stop(process: subprocess.Popen[bytes], signum: int) -> int:
    process.send_signal(signum)
    return process.wait(timeout=60)


def test_killing_a_sweep_loses_only_trials_in_flight(
    sweep_env: dict[str, str], tmp_path: Path
) -> None:
    results, log = tmp_path / "results", tmp_path / "sweep.log"
    first = start(results, sweep_env, log)
    wait_until(lambda: len(finished(results)) >= 1, first)
    assert stop(first, signal.SIGINT) == 130, log.read_text()
    done_a = finished(results)
    stamps_a = stamps(results, done_a)
    trial_list = (results / TRIALS_JSON).read_bytes()
    assert len(done_a) < TRIALS * SEEDS

    second = start(results, sweep_env, log)
    wait_until(lambda: len(finished(results)) > len(done_a), second)
    assert stop(second, signal.SIGKILL) == -signal.SIGKILL
    time.sleep(1.0)  # an orphaned worker would still be writing now
    done_b = finished(results)
    stamps_b = stamps(results, done_b)
    assert stamps(results, done_a) == stamps_a
    time.sleep(1.0)
    assert stamps(results, done_b) == stamps_b

    last = CliRunner().invoke(app, [*ARGS, "--results-dir", str(results)])
    assert last.exit_code == 0, last.output
    assert f"{len(done_b)} finished earlier" in last.stdout
    assert (results / TRIALS_JSON).read_bytes() == trial_list
    assert stamps(results, done_b) == stamps_b
    trial_ids = [trial["trial_id"] for trial in json.loads(trial_list)["trials"]]
    assert finished(results) == set(trial_ids)
    assert all(read_metrics(results / "runs" / t).config_hash == t for t in trial_ids)
    assert_each_trial_finished_once(results / EVENTS_FILE)


def assert_each_trial_finished_once(events_file: Path) -> None:
    """No trial is started again after a finished outcome, nor finished twice."""
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    done: Counter[str] = Counter()
    for event in events:
        if event["event"] == "started":
            assert done[event["trial_id"]] == 0, f"{event['trial_id']} ran again after finishing"
        elif event["status"] in {"ok", "diverged"}:
            done[event["trial_id"]] += 1
    assert max(done.values()) == 1

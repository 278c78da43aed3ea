"""`rnnbench train` and `rnnbench sample` end to end on JSB Chorales from the mirror."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pretty_midi
import pytest
import torch
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.engine import KERNELS
from rnnbench.models import get_cell
from rnnbench.models.paper import reference_kernel
from rnnbench.records import CHECKPOINT_FILE, METRICS_FILE, PER_SEQUENCE_FILE, read_metrics

REPO = Path(__file__).resolve().parents[2]
SMOKE = str(REPO / "configs" / "smoke.yaml")
TINY = ["--set", "data.max_sequences=6", "--set", "model.hidden_size=8"]

pytestmark = pytest.mark.mirror


def train_args(data_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["train", SMOKE, "--set", f"data.data_dir={data_dir}", "--run-dir", str(run_dir), *extra]


def test_smoke_config_trains_and_samples_on_jsb(data_dir_all: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, train_args(data_dir_all, run_dir))
    assert result.exit_code == 0, result.output
    metrics = read_metrics(run_dir)
    assert metrics.status == "ok" and metrics.dataset == "jsb" and metrics.epochs == 3
    assert metrics.params_recurrent == 18_630 and metrics.nll_test is not None
    assert metrics.nll_test < 20  # from ~61 nats (88 fair coins) at the start
    assert f"{metrics.nll_test:.4f}" in result.stdout and "epoch 3/3" in result.stderr
    assert (run_dir / PER_SEQUENCE_FILE).is_file()

    midi_path = tmp_path / "sample.mid"
    steps = 40
    sampled = CliRunner().invoke(
        app, ["sample", str(run_dir), "--steps", str(steps), "--seed", "1", "--out", str(midi_path)]
    )
    assert sampled.exit_code == 0, sampled.output
    assert str(midi_path) in sampled.stdout
    midi = pretty_midi.PrettyMIDI(str(midi_path))
    notes = midi.instruments[0].notes
    assert notes, "a trained JSB model sounds some notes"
    assert all(21 <= note.pitch <= 108 for note in notes)
    frame = 60.0 / 120.0  # JSB: one frame per quarter note at the default 120 bpm
    assert midi.get_end_time() <= steps * frame + 1e-6
    roll = midi.get_piano_roll(fs=1 / frame)[21:109]  # (88, frames)
    assert roll.shape[1] <= steps
    again = CliRunner().invoke(
        app,
        [
            "sample",
            str(run_dir),
            "--steps",
            str(steps),
            "--seed",
            "1",
            "--out",
            str(tmp_path / "b.mid"),
        ],
    )
    assert again.exit_code == 0
    assert (tmp_path / "b.mid").read_bytes() == midi_path.read_bytes()  # same seed, same sample


def test_default_run_dir_under_results_dir(data_dir_all: Path, tmp_path: Path) -> None:
    arguments = ["train", SMOKE, "--set", f"data.data_dir={data_dir_all}", *TINY]
    arguments += ["--set", "train.max_epochs=1", "--results-dir", str(tmp_path / "results")]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "results" / "runs").iterdir()
    assert "-jsb-gru-paper-" in run_dir.name
    assert read_metrics(run_dir).run_id == run_dir.name


def test_divergence_exits_1_and_keeps_the_record(data_dir_all: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    arguments = train_args(data_dir_all, run_dir, *TINY, "--set", "optim.lr=1e38")
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1, result.output
    assert "diverged at epoch 1" in result.stderr and "no epoch finished" in result.stderr
    assert read_metrics(run_dir).status == "diverged"


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process, as a background job of a non-interactive shell starts
    with it: the command must handle SIGINT itself, whatever the test runner inherited."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the command put it back
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_ignored")
def test_sigint_exits_130_and_resume_matches_an_uninterrupted_run(
    data_dir_all: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT, sent by the process to itself from inside a training step of epoch 2."""
    extra = (*TINY, "--set", "train.max_epochs=3", "--set", "train.batch_size=2")
    reference = CliRunner().invoke(app, train_args(data_dir_all, tmp_path / "reference", *extra))
    assert reference.exit_code == 0, reference.output

    calls = {"count": 0}
    kernel = KERNELS.get("gru") or reference_kernel(get_cell("gru"))  # the one the reference used

    def kernel_sending_sigint(*args: Any) -> torch.Tensor:
        if not torch.is_grad_enabled():  # an evaluation (or the warm-up): not a training step
            return kernel(*args)
        calls["count"] += 1
        if calls["count"] == 5:  # epoch 2 (3 batches per epoch), second step
            os.kill(os.getpid(), signal.SIGINT)
        return kernel(*args)

    monkeypatch.setitem(KERNELS, "gru", kernel_sending_sigint)
    stopped = CliRunner().invoke(app, train_args(data_dir_all, tmp_path / "run", *extra))
    assert stopped.exit_code == 130, stopped.output
    assert "--resume" in stopped.stderr
    assert read_metrics(tmp_path / "run").status == "interrupted"
    assert (tmp_path / "run" / CHECKPOINT_FILE).is_file()

    resumed = CliRunner().invoke(app, ["train", "--resume", str(tmp_path / "run")])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 1" in resumed.stderr
    finished, expected = read_metrics(tmp_path / "run"), read_metrics(tmp_path / "reference")
    for field in (
        "status",
        "epochs",
        "best_epoch",
        "nll_train",
        "nll_valid",
        "nll_test",
        "frame_acc_test",
    ):
        assert getattr(finished, field) == getattr(expected, field), field
    assert (tmp_path / "run" / METRICS_FILE).is_file()


def test_lstm_without_peepholes_trains_records_and_samples(
    data_dir_all: Path, tmp_path: Path
) -> None:
    """The peephole ablation end to end: config.yaml says so, the record counts no peephole
    parameters (4 blocks of I*H + H*H + H), and `sample` rebuilds the same model from the run."""
    run_dir = tmp_path / "run"
    extra = ["--set", "model.cell=lstm", "--set", "model.peepholes=false", *TINY]
    result = CliRunner().invoke(app, train_args(data_dir_all, run_dir, *extra, "--set",
                                                "train.max_epochs=1"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "peepholes: false" in (run_dir / "config.yaml").read_text()
    assert read_metrics(run_dir).params_recurrent == 4 * (88 * 8 + 8 * 8 + 8)
    sampled = CliRunner().invoke(
        app, ["sample", str(run_dir), "--steps", "8", "--out", str(tmp_path / "s.mid")]
    )
    assert sampled.exit_code == 0, sampled.output
    assert pretty_midi.PrettyMIDI(str(tmp_path / "s.mid")).get_end_time() > 0


@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN], ids=["default", "ignored"])
def test_kill_int_stops_a_train_process_whatever_sigint_it_inherited(
    data_dir_all: Path, tmp_path: Path, inherited: signal.Handlers
) -> None:
    """`kill -INT` from outside, on a process started with SIGINT at its default or ignored (a
    background job of a non-interactive shell): it stops, saves and exits 130 either way."""
    run_dir, log = tmp_path / "run", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "rnnbench", *train_args(data_dir_all, run_dir, *TINY)]
    command += ["--set", "train.max_epochs=500", "--set", "train.patience=500"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=lambda: signal.signal(signal.SIGINT, inherited),  # noqa: PLW1509
        )
    deadline = time.monotonic() + 300
    while "epoch 1/500" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no epoch finished in time"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130, log.read_text()
    assert f"rnnbench train --resume {run_dir}" in log.read_text()
    metrics = read_metrics(run_dir)
    assert metrics.status == "interrupted" and 1 <= metrics.epochs < 500

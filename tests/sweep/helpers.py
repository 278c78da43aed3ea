"""Small builders shared by the sweep tests (real file formats, no mocks)."""

from __future__ import annotations

from pathlib import Path

from rnnbench.io import atomic_write_json
from rnnbench.records import METRICS_FILE, RunMetrics
from rnnbench.sweep.trials import Trial


def make_trial(trial_id: str, lr: float = 1e-3, seed: int = 0, cell: str = "gru") -> Trial:
    return Trial(
        trial_id=trial_id,
        dataset="jsb",
        cell=cell,
        variant="paper",
        hidden_size=4,
        lr_index=0,
        lr=lr,
        seed=seed,
        source="configs/paper/jsb-gru.yaml",
        config={"seed": seed, "optim": {"lr": lr}},
    )


def write_metrics(run_dir: Path, status: str, nll_valid: float | None = 8.5) -> RunMetrics:
    metrics = RunMetrics(
        run_id=run_dir.name,
        status=status,  # type: ignore[arg-type]
        dataset="jsb",
        cell="gru",
        variant="paper",
        hidden_size=4,
        params_recurrent=100,
        params_total=540,
        lr=1e-3,
        seed=0,
        batch_size=8,
        weight_noise=0.0,
        epochs=1,
        best_epoch=1,
        nll_train=9.0,
        nll_valid=nll_valid,
        nll_test=8.7,
        frame_acc_test=0.1,
        wall_time_s=1.0,
        frames_per_s=1000.0,
        device="cpu",
        torch_version="x",
        rnnbench_version="0.1.0",
        config_hash=run_dir.name,
    )
    atomic_write_json(run_dir / METRICS_FILE, metrics.model_dump(mode="json"))
    return metrics

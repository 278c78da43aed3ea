"""`rnnbench bench` end to end at tiny sizes: JSON shape, table, usage errors. No speed asserts."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from rnnbench.bench import BenchRow, bench_step, machine_info, random_batch
from rnnbench.cells import CELLS, paper_cells
from rnnbench.cli import app
from rnnbench.engine.baselines import TorchCellLoopModel, TorchFusedModel
from rnnbench.models import build_model
from rnnbench.train.evaluate import training_loss

REQUIRED = {"cell", "impl", "batch", "seq_len", "frames_per_s", "ratio_vs_torch_fused"}
TINY = ["--batch", "2", "--seq-len", "5", "--repeats", "1", "--warmup", "0", "--threads", "1"]


def test_bench_json_rows_and_machine() -> None:
    result = CliRunner().invoke(
        app, ["bench", "--cells", "tanh,gru,lstm", *TINY, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = report["rows"]
    assert {row["cell"] for row in rows} == {"tanh", "gru", "lstm"}
    assert {"rnnbench-paper", "torch-fused", "torch-cell-loop"} <= {row["impl"] for row in rows}
    for row in rows:
        assert set(row) >= REQUIRED
        assert row["batch"] == 2 and row["seq_len"] == 5
        assert row["frames_per_s"] > 0
        assert row["hidden_size"] == CELLS[row["cell"]].paper_hidden_size
    fused = [row for row in rows if row["impl"] == "torch-fused"]
    assert all(row["ratio_vs_torch_fused"] == 1.0 for row in fused)
    machine = report["machine"]
    for key in ("cpu", "cores", "torch_threads", "torch", "onednn", "cudnn"):
        assert key in machine
    assert machine["torch_threads"] == 1


def test_bench_measures_with_the_training_thread_count_by_default() -> None:
    """Without --threads, bench uses train.num_threads' default (1), not torch's own choice."""
    torch.set_num_threads(2)  # the autouse fixture restores the previous count
    assert TINY[-2:] == ["--threads", "1"]
    result = CliRunner().invoke(app, ["bench", "--cells", "gru", *TINY[:-2], "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["machine"]["torch_threads"] == 1


def test_bench_table_names_machine() -> None:
    result = CliRunner().invoke(app, ["bench", "--cells", "gru", *TINY])
    assert result.exit_code == 0, result.output
    assert "torch-fused" in result.stdout
    assert "torch" in result.stdout and "cores" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--cells", "lstn"], "did you mean 'lstm'"),
        (["--cells", ","], "--cells"),
        (["--batch", "0"], "--batch"),
        (["--repeats", "0"], "--repeats"),
        (["--threads", "100000"], "--threads must be between 1 and 1024, got 100000"),
        (["--threads", "0"], "--threads must be between 1 and 1024"),
        (["--batch", "100000000"], "--batch must be between 1 and 4096"),
        (["--seq-len", "100000000"], "--seq-len must be between 1 and 10000"),
        (["--warmup", "-1"], "--warmup must be between 0"),
    ],
)
def test_bench_usage_errors_exit_2(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["bench", *TINY, *arguments])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert "bench:" not in result.stderr  # rejected before the header is printed


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_bench_cuda_without_gpu_is_usage_error() -> None:
    result = CliRunner().invoke(app, ["bench", "--device", "cuda", *TINY])
    assert result.exit_code == 2
    assert "CUDA" in result.stderr


def paper_model(cell: str, hidden_size: int) -> torch.nn.Module:
    return build_model(cell, "paper", hidden_size)


@pytest.mark.parametrize("model_class", [paper_model, TorchFusedModel, TorchCellLoopModel])
@pytest.mark.parametrize("cell", paper_cells())
def test_bench_models_train_and_use_weight_noise(model_class: type, cell: str) -> None:
    """Each raced model really trains (the loss falls) and its weight noise changes outputs."""
    torch.manual_seed(0)
    model = model_class(cell, 8)
    batch = random_batch(4, 12, torch.device("cpu"))
    clean = model(batch.inputs, 0.0)
    noisy = model(batch.inputs, 0.5)
    assert not torch.allclose(clean, noisy)
    model.eval()
    torch.testing.assert_close(model(batch.inputs, 0.5), model(batch.inputs, 0.0))
    model.train()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-2)

    def loss() -> float:
        with torch.no_grad():
            return float(training_loss(model(batch.inputs, 0.0), batch))

    before = loss()
    for _ in range(15):
        bench_step(model, optimizer, batch)
    assert loss() < before


def test_machine_info_and_row_fields() -> None:
    info = machine_info(torch.device("cpu"))
    assert info["cores"] and info["torch"] == torch.__version__
    assert set(BenchRow.__dataclass_fields__) >= REQUIRED

"""Wall time of one training epoch as a sweep trial runs it, per dataset and paper cell.

Each (dataset, cell) trains `--epochs` epochs of its paper config (one torch thread, CPU), exactly
as a trial: a train epoch, then evaluation of train and valid. Prints one JSON row per pair with
the steady-state seconds per epoch (the mean over epochs after the first) and the final
evaluation time, for projecting a sweep's cost: trial = epochs x epoch_s + final_eval_s.

    python benchmarks/epoch_times.py --data-dir data > epoch_times.jsonl
    python benchmarks/epoch_times.py --data-dir data --set train.batch_size=1
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import tempfile
from pathlib import Path

from rnnbench.cells import paper_cells
from rnnbench.config import load_config
from rnnbench.train import train

DATASETS = ("jsb", "nottingham", "musedata", "piano-midi")


def measure(
    dataset: str, cell: str, epochs: int, data_dir: Path, extra: list[str]
) -> dict[str, object]:
    overrides = [
        *extra,
        f"train.max_epochs={epochs}",
        "train.num_threads=1",
        "device=cpu",
        f"data.data_dir={data_dir}",
    ]
    config = load_config(Path(f"configs/paper/{dataset}-{cell}.yaml"), overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        metrics = train(config, Path(run_dir))
        with (Path(run_dir) / "history.csv").open() as handle:
            rows = list(csv.DictReader(handle))
    times = [float(row["wall_time_s"]) for row in rows]  # cumulative, one per epoch
    steady = [later - earlier for earlier, later in itertools.pairwise(times)]
    epoch_s = sum(steady) / len(steady) if steady else times[0]
    return {
        "dataset": dataset,
        "cell": cell,
        "epoch_s": round(epoch_s, 2),
        "final_eval_s": round(metrics.wall_time_s - times[-1], 2),
        "train_frames_per_s": round(metrics.frames_per_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--cells", default=",".join(paper_cells()))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], help="config override a.b=value")
    args = parser.parse_args()
    for dataset in args.datasets.split(","):
        for cell in args.cells.split(","):
            row = measure(dataset, cell, args.epochs, args.data_dir.resolve(), args.set)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

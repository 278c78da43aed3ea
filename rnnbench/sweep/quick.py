"""`reproduce --quick`: the headline protocol, cut short, at the rates its committed runs chose.

The budget is data (quick.yaml beside this file), derived from the committed run records by

    python -m rnnbench.sweep.derive_quick results/paper-batch1 results/ablations

and checked against them by tests/sweep/test_quick.py. For each (dataset, cell):

- the reference is what the full protocol gives: among the committed runs of the headline protocol
  (configs/paper at its defaults, batch 1; only the learning rate and the seed may differ), the
  learning rate with the best mean validation NLL, and the mean test NLL of its seeds;
- the quick run is seed 0 at the committed learning rate that got within MARGIN of that validation
  NLL in the fewest epochs, for that many epochs. A CPU run is a function of its config, so the
  quick run is the first epochs of that committed run, on the full dataset;
- the whole must fit BUDGET_SECONDS of training on the reference machine, priced by a committed
  quick run there (results/quick: seconds per epoch of each pair, two workers on two cores). The
  cheapest pairs get their epochs first; the pairs that no longer fit share what is left, and where
  one of them misses the tolerance the quick table says how many of its epochs it got.

    committed seed-0 curve (valid NLL)         quick run
    10.8 ─╮                                     same lr, same seed, first E epochs
          ╰──╮                                  -> test NLL near the reference
    ref+M ─ ─ ─╲─ ─ ─ ─ ─ ─                     (tests/sweep/test_quick.py, docs/sweeps.md)
    ref          ╰────────────  (E = first epoch under ref + M)
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

import yaml

from rnnbench.config import Config, config_hash, parse_recorded
from rnnbench.errors import RnnbenchError
from rnnbench.records import CONFIG_FILE, HISTORY_FILE, METRICS_FILE

QUICK_FILE = "quick.yaml"
MARGIN = 0.4  # nats of validation NLL above the reference at which a quick run may stop
TOLERANCE = 0.5  # the quick table flags a pair further than this from its reference (test NLL)
EPOCH_SLACK = 1.0  # epochs budgeted = ceil(slack x epochs the committed run needed)
# Seconds of training, summed over the pairs, on the reference machine (a 2-core AMD EPYC; two
# workers): ~370 s of wall time there, so that with the one-off engine build (~50-60 s), the data
# fetch and the report `reproduce --quick` takes about 7 minutes, and stays under 10 on the same
# machine measured 40% slower at another hour (docs/sweeps.md).
BUDGET_SECONDS = 800.0
TIMING_ROOT = "results/quick"  # a committed quick run on the reference machine: the prices


@dataclass(frozen=True)
class QuickPair:
    dataset: str
    cell: str
    lr: float  # a committed learning rate of the headline protocol
    max_epochs: int  # the quick budget: needed_epochs, or fewer where the time budget ran out
    needed_epochs: int  # what the committed run needed to come within MARGIN (x EPOCH_SLACK)
    reach_epochs: int  # what it needed to come within TOLERANCE: fewer epochs cannot pass
    epoch_seconds: float  # one epoch of this pair on the reference machine (TIMING_ROOT)
    reference_test: float  # the full protocol's test NLL (pooled), mean over its seeds
    reference_runs: int  # seeds behind the reference
    reference_lrs: int  # learning rates searched behind the reference (10: the full search)


@dataclass(frozen=True)
class _Run:
    lr: float
    seed: int
    nll_valid: float
    nll_test: float
    curve: list[float]  # validation NLL per epoch


def quick_plan() -> dict[tuple[str, str], QuickPair]:
    """The shipped quick budget, keyed by (dataset, cell)."""
    text = resources.files("rnnbench.sweep").joinpath(QUICK_FILE).read_text()
    pairs = [QuickPair(**item) for item in yaml.safe_load(text)["pairs"]]
    return {(pair.dataset, pair.cell): pair for pair in pairs}


def derive_plan(
    roots: Iterable[Path],
    protocols: dict[tuple[str, str], Config],
    timing: Path | None = None,
    budget: float = BUDGET_SECONDS,
) -> list[QuickPair]:
    """The quick budget the committed records under `roots` give, for the pairs of `protocols`
    ((dataset, cell) -> the headline protocol's config of that pair), priced by the quick run under
    `timing` (None: no time budget, every pair gets the epochs it needs)."""
    wanted = {config_hash(_normalised(config)): key for key, config in protocols.items()}
    runs: dict[tuple[str, str], list[_Run]] = {}
    seen: set[tuple[tuple[str, str], float, int]] = set()  # a config copied twice is one run
    for run_dir in _run_dirs(roots):
        found = _read(run_dir, wanted)
        if found is None:
            continue
        key, run = found
        if (key, run.lr, run.seed) not in seen:
            seen.add((key, run.lr, run.seed))
            runs.setdefault(key, []).append(run)
    pairs = [_pair(key, runs[key]) for key in protocols if key in runs]
    if timing is None:
        return pairs
    prices = epoch_prices(timing)
    priced = [replace(pair, epoch_seconds=_price(pair, prices)) for pair in pairs]
    return fit_budget(priced, budget)


def epoch_prices(timing: Path) -> dict[tuple[str, str], float]:
    """Seconds per epoch of each (dataset, cell) in the finished runs under `timing`."""
    prices: dict[tuple[str, str], float] = {}
    for run_dir in _run_dirs([timing]):
        metrics = json.loads((run_dir / METRICS_FILE).read_text())
        with (run_dir / HISTORY_FILE).open() as handle:
            seconds = [float(row["wall_time_s"]) for row in csv.DictReader(handle)]
        if metrics["status"] == "ok" and seconds:
            prices[(metrics["dataset"], metrics["cell"])] = round(seconds[-1] / len(seconds), 3)
    if not prices:
        raise RnnbenchError(f"{timing}: no finished quick run to price the budget with")
    return prices


def _price(pair: QuickPair, prices: dict[tuple[str, str], float]) -> float:
    """The pair's own price, else the dearest of its dataset's, else the dearest of all."""
    same_dataset = [price for (dataset, _), price in prices.items() if dataset == pair.dataset]
    return prices.get((pair.dataset, pair.cell), max(same_dataset or prices.values()))


def fit_budget(pairs: list[QuickPair], budget: float) -> list[QuickPair]:
    """Cheapest pair first, each gets the epochs it needs while `budget` seconds last, less one
    epoch held back for each pair after it; the pairs that no longer fit (all dearer) share what is
    left. A share too short to bring a pair within the tolerance is not spent on it: that pair gets
    one epoch (its row says it was cut) and the time goes to the pairs after it. Every pair runs at
    least one epoch, so the total stays within `budget` whenever that covers one epoch of each."""
    fitted: dict[tuple[str, str], QuickPair] = {}
    left = budget
    ordered = sorted(pairs, key=lambda pair: (pair.needed_epochs * pair.epoch_seconds, pair.cell))
    for index, pair in enumerate(ordered):
        cost = pair.needed_epochs * pair.epoch_seconds
        if cost > left - _one_epoch_each(ordered[index + 1 :]):
            fitted.update(_shared(ordered[index:], left))
            break
        left -= cost
        fitted[(pair.dataset, pair.cell)] = pair
    return [fitted[(pair.dataset, pair.cell)] for pair in pairs]


def _one_epoch_each(pairs: list[QuickPair]) -> float:
    """Seconds for one epoch of each of `pairs`: the least any of them runs."""
    return sum(pair.epoch_seconds for pair in pairs)


def _shared(rest: list[QuickPair], left: float) -> dict[tuple[str, str], QuickPair]:
    """`rest` (cheapest first) sharing `left` seconds equally, one epoch held back for each pair
    still to come; a share that cannot reach a pair's tolerance buys it one epoch only."""
    shared: dict[tuple[str, str], QuickPair] = {}
    for position, pair in enumerate(rest):
        share = left / (len(rest) - position)
        spendable = left - _one_epoch_each(rest[position + 1 :])
        epochs = min(
            pair.needed_epochs,
            math.floor(share / pair.epoch_seconds),
            math.floor(spendable / pair.epoch_seconds),
        )
        epochs = epochs if epochs >= max(pair.reach_epochs, 1) else 1
        left -= epochs * pair.epoch_seconds
        shared[(pair.dataset, pair.cell)] = replace(pair, max_epochs=epochs)
    return shared


def _normalised(config: Config) -> Config:
    """The config with the fields a search varies set to fixed values (lr, seed, threads)."""
    data = config.model_dump(mode="json")
    data["seed"], data["optim"]["lr"] = 0, 1e-3
    return parse_recorded(data, "protocol")


def _run_dirs(roots: Iterable[Path]) -> list[Path]:
    return sorted({path.parent for root in roots for path in root.rglob(METRICS_FILE)})


def _read(run_dir: Path, wanted: dict[str, tuple[str, str]]) -> tuple[tuple[str, str], _Run] | None:
    """A finished run of one of the wanted protocols, or None."""
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        return None
    config = parse_recorded(yaml.safe_load(config_path.read_text()), str(config_path))
    key = wanted.get(config_hash(_normalised(config)))
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    finished = metrics["status"] in ("ok", "diverged") and metrics["nll_test"] is not None
    if key is None or not finished:
        return None
    with (run_dir / HISTORY_FILE).open() as handle:
        curve = [float(row["nll_valid"]) for row in csv.DictReader(handle)]
    run = _Run(config.optim.lr, config.seed, metrics["nll_valid"], metrics["nll_test"], curve)
    return key, run


def _pair(key: tuple[str, str], runs: list[_Run]) -> QuickPair:
    """The reference (best mean valid over the seeds every rate shares) and the fastest rate."""
    by_lr: dict[float, list[_Run]] = {}
    for run in runs:
        by_lr.setdefault(run.lr, []).append(run)
    common = set.intersection(*({run.seed for run in group} for group in by_lr.values()))
    best_lr = min(by_lr, key=lambda lr: _mean_valid(by_lr[lr], common))
    chosen = by_lr[best_lr]
    reference_valid = statistics.fmean(run.nll_valid for run in chosen)
    fastest = min(
        (run for run in runs if run.seed == 0),
        key=lambda run: (_epochs_to(run.curve, reference_valid + MARGIN), run.lr),
    )
    epochs = _epochs_to(fastest.curve, reference_valid + MARGIN)
    if math.isinf(epochs):
        raise RnnbenchError(f"{key[0]}/{key[1]}: no committed seed-0 run reaches the reference")
    needed = math.ceil(epochs * EPOCH_SLACK)
    reach = math.ceil(_epochs_to(fastest.curve, reference_valid + TOLERANCE) * EPOCH_SLACK)
    return QuickPair(
        dataset=key[0],
        cell=key[1],
        lr=fastest.lr,
        max_epochs=needed,
        needed_epochs=needed,
        reach_epochs=reach,
        epoch_seconds=math.nan,
        reference_test=round(statistics.fmean(run.nll_test for run in chosen), 4),
        reference_runs=len(chosen),
        reference_lrs=len(by_lr),
    )


def _mean_valid(group: list[_Run], common: set[int]) -> float:
    scored = [run for run in group if run.seed in common] or group
    return statistics.fmean(run.nll_valid for run in scored)


def _epochs_to(curve: list[float], target: float) -> float:
    """The first epoch (1-based) whose validation NLL is at or under target; inf if none."""
    return next((epoch for epoch, value in enumerate(curve, 1) if value <= target), math.inf)


def render_plan(pairs: list[QuickPair], roots: list[str]) -> str:
    header = (
        "# The budget of `rnnbench reproduce --quick` (rnnbench/sweep/quick.py), derived from the\n"
        f"# committed run records by `python -m rnnbench.sweep.derive_quick {' '.join(roots)}`.\n"
        "# Per pair: the committed learning rate whose seed-0 run got within "
        f"{MARGIN} nats of the\n# reference's validation NLL in the fewest epochs, those epochs "
        f"x {EPOCH_SLACK} (needed_epochs), and the reference\n"
        "# (the full protocol's test NLL: its runs and rates). Priced by the committed quick run\n"
        f"# in {TIMING_ROOT} (epoch_seconds), cheapest first within {BUDGET_SECONDS:.0f} s; "
        "the pairs that did\n# not fit share what was left (max_epochs < needed_epochs), or "
        "get one epoch where\n# their share is short of reach_epochs (within the 0.5 tolerance).\n"
    )
    body = yaml.safe_dump({"pairs": [asdict(pair) for pair in pairs]}, sort_keys=False)
    return header + body

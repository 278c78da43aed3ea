"""Statistics with known answers: the t-interval and the paired bootstrap."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from rnnbench.records import PER_SEQUENCE_FILE, RecordError
from rnnbench.report import aggregate, cell_pairs, load_runs, paired_bootstrap, summarize_seeds

from .conftest import TEST_FRAMES, MakeRun


def test_summarize_seeds_matches_scipy_t_interval() -> None:
    values = [3.1, 3.3, 3.2, 3.5, 3.25]
    summary = summarize_seeds(values)
    low, high = stats.t.interval(
        0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
    )
    assert (summary.ci_low, summary.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert summary.n == 5


def test_summarize_one_seed_has_no_interval() -> None:
    summary = summarize_seeds([3.0, math.nan])
    assert summary.n == 1 and summary.mean == 3.0 and math.isnan(summary.ci_low)


def test_constant_per_frame_difference_gives_zero_width_interval() -> None:
    frames = np.array(TEST_FRAMES, dtype=float)
    rng = np.random.default_rng(0)
    nll_b = frames * rng.uniform(7.0, 9.0, frames.size)
    nll_a = nll_b - 0.25 * frames  # A better by exactly 0.25 nats per frame on every sequence
    result = paired_bootstrap(nll_a, nll_b, frames, n_resamples=2000)
    assert result.difference == pytest.approx(-0.25)
    assert result.ci_low == pytest.approx(-0.25) and result.ci_high == pytest.approx(-0.25)
    assert result.p_value == 0.0


def test_symmetric_differences_center_on_zero() -> None:
    frames = np.full(200, 50.0)
    per_frame = np.concatenate([np.linspace(0.1, 1.0, 100), -np.linspace(0.1, 1.0, 100)])
    nll_b = frames * 8.0
    result = paired_bootstrap(nll_b + per_frame * frames, nll_b, frames, n_resamples=4000)
    assert result.difference == pytest.approx(0.0, abs=1e-12)
    assert result.ci_low < 0 < result.ci_high
    assert result.ci_low == pytest.approx(-result.ci_high, rel=0.1)
    expected_half_width = 1.96 * np.std(per_frame) / np.sqrt(per_frame.size)  # CLT
    assert result.ci_high == pytest.approx(expected_half_width, rel=0.1)
    assert result.p_value > 0.5


def test_bootstrap_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    frames = rng.integers(20, 90, 30).astype(float)
    a, b = frames * rng.normal(8, 0.5, 30), frames * rng.normal(8.2, 0.5, 30)
    assert paired_bootstrap(a, b, frames) == paired_bootstrap(a, b, frames)


def test_cell_pairs_on_runs(make_run: MakeRun, tmp_path: Path) -> None:
    deviations = list(np.linspace(-0.5, 0.5, len(TEST_FRAMES)))
    for cell, test in (("tanh", 9.0), ("gru", 8.5), ("lstm", 8.7)):
        for seed in (0, 1):
            make_run(cell=cell, seed=seed, nll_test=test, deviations=deviations)
    pairs = cell_pairs(aggregate(load_runs([tmp_path / "runs"])), n_resamples=1000)
    names = [f"{a}-{b}" for a, b in zip(pairs["cell_a"], pairs["cell_b"], strict=True)]
    assert names == ["gru-lstm", "gru-tanh", "lstm-tanh"]
    # the same per-sequence shape in every cell: the difference is a constant per frame
    expected = {"gru-lstm": -0.2, "gru-tanh": -0.5, "lstm-tanh": -0.3}
    for name, (_, pair) in zip(names, pairs.iterrows(), strict=True):
        assert pair["difference"] == pytest.approx(expected[name])
        assert pair["ci_low"] == pytest.approx(expected[name])
        assert pair["ci_high"] == pytest.approx(expected[name])
        assert (pair["n_sequences"], pair["n_seeds_a"]) == (len(TEST_FRAMES), 2)


def test_cell_pairs_refuse_different_test_sequences(make_run: MakeRun, tmp_path: Path) -> None:
    make_run(cell="gru")
    lstm = make_run(cell="lstm")
    path = lstm / PER_SEQUENCE_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # one test sequence fewer
    with pytest.raises(RecordError, match="different sequences"):
        cell_pairs(aggregate(load_runs([tmp_path / "runs"])), n_resamples=100)

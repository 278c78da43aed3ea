"""Statistics: seed summaries with a Student-t interval; the paired bootstrap between two cells."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rnnbench.errors import RnnbenchError

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20141211  # fixed: the same runs always give the same interval


@dataclass(frozen=True)
class SeedSummary:
    mean: float
    std: float  # sample standard deviation (ddof=1); nan when n < 2
    n: int
    ci_low: float  # 95% Student-t interval of the mean; nan when n < 2
    ci_high: float


def summarize_seeds(values: npt.ArrayLike) -> SeedSummary:
    """Mean, std, n and the 95% t-interval of the mean over finite values (one per seed)."""
    from scipy.special import stdtrit  # Student-t quantile; scipy.stats costs seconds to import

    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    n = int(array.size)
    if n == 0:
        return SeedSummary(math.nan, math.nan, 0, math.nan, math.nan)
    mean = float(array.mean())
    if n < 2:
        return SeedSummary(mean, math.nan, 1, math.nan, math.nan)
    std = float(array.std(ddof=1))
    half = float(stdtrit(n - 1, 0.5 + CONFIDENCE / 2)) * std / math.sqrt(n)
    return SeedSummary(mean, std, n, mean - half, mean + half)


@dataclass(frozen=True)
class PairedDifference:
    """Pooled NLL of cell A minus that of cell B on the same sequences (negative: A is better)."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float  # two-sided bootstrap p-value for "no difference"
    n_sequences: int
    n_resamples: int


def paired_bootstrap(
    nll_sum_a: npt.ArrayLike,
    nll_sum_b: npt.ArrayLike,
    frames: npt.ArrayLike,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> PairedDifference:
    """Resample sequence indices with replacement, the same indices for both cells, and take the
    percentile interval of the pooled-NLL difference sum(a - b)[idx] / sum(frames)[idx]."""
    a = np.asarray(nll_sum_a, dtype=float)
    b = np.asarray(nll_sum_b, dtype=float)
    weights = np.asarray(frames, dtype=float)
    if not (a.shape == b.shape == weights.shape) or a.ndim != 1 or a.size == 0:
        raise RnnbenchError("paired bootstrap needs equally long, non-empty per-sequence arrays")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))) or np.any(weights <= 0):
        raise RnnbenchError("paired bootstrap needs finite NLLs and positive frame counts")
    delta = a - b
    observed = float(delta.sum() / weights.sum())
    resampled = _resampled_differences(delta, weights, n_resamples, seed)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(resampled, [alpha, 1 - alpha])
    tail = min(float(np.mean(resampled <= 0)), float(np.mean(resampled >= 0)))
    return PairedDifference(
        difference=observed,
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(min(1.0, 2 * tail)),
        n_sequences=int(a.size),
        n_resamples=n_resamples,
    )


def _resampled_differences(
    delta: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], n_resamples: int, seed: int
) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    n = delta.size
    chunk = max(1, 2_000_000 // n)  # bound memory: (chunk, n) index matrices
    parts = []
    for start in range(0, n_resamples, chunk):
        count = min(chunk, n_resamples - start)
        index = rng.integers(0, n, size=(count, n))  # (count, n) sequence indices
        parts.append(delta[index].sum(axis=1) / weights[index].sum(axis=1))
    return np.concatenate(parts)

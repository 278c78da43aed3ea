from __future__ import annotations

import math

import pytest

from rnnbench.cells import paper_cells
from rnnbench.sweep import PAPER_DATASETS, draw_learning_rates

PAIRS = [(dataset, cell) for dataset in PAPER_DATASETS for cell in paper_cells()]


@pytest.mark.parametrize(("dataset", "cell"), PAIRS)
def test_draws_lie_in_the_papers_range_and_repeat(dataset: str, cell: str) -> None:
    rates = draw_learning_rates(0, dataset, cell, 10)
    assert len(rates) == 10
    assert all(math.exp(-12) <= rate <= math.exp(-6) for rate in rates)
    assert draw_learning_rates(0, dataset, cell, 10) == rates
    assert len(set(rates)) == 10


@pytest.mark.parametrize(("dataset", "cell"), PAIRS)
def test_more_trials_keep_the_first_draws(dataset: str, cell: str) -> None:
    assert draw_learning_rates(3, dataset, cell, 10)[:5] == draw_learning_rates(3, dataset, cell, 5)


def test_each_pair_and_sweep_seed_has_its_own_stream() -> None:
    draws = {pair: tuple(draw_learning_rates(0, *pair, 3)) for pair in PAIRS}
    assert len(set(draws.values())) == len(PAIRS)
    assert draw_learning_rates(1, "jsb", "gru", 3) != draw_learning_rates(0, "jsb", "gru", 3)


def test_log_learning_rates_cover_the_range() -> None:
    exponents = [math.log(rate) for rate in draw_learning_rates(0, "jsb", "gru", 2000)]
    assert min(exponents) < -11.9
    assert max(exponents) > -6.1
    assert abs(sum(exponents) / len(exponents) - (-9.0)) < 0.15  # uniform in log space

from __future__ import annotations

from pathlib import Path

import pytest

from rnnbench.cells import paper_cells
from rnnbench.errors import UsageError
from rnnbench.sweep import PAPER_DATASETS, SweepSpec, expand_bases, materialize
from tests.conftest import REPO_ROOT

PAPER = REPO_ROOT / "configs" / "paper"


def test_the_trial_list_is_the_same_on_every_materialization() -> None:
    spec = SweepSpec(bases=tuple(expand_bases(PAPER, ["jsb"], ["gru", "lstm"])), trials=3, seeds=2)
    first, second = materialize(spec), materialize(spec)
    assert first == second
    assert len(first) == 12
    assert len({trial.trial_id for trial in first}) == 12
    assert [(trial.lr_index, trial.seed) for trial in first[:6]] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
    ]


def test_each_trial_is_a_resolved_config_with_its_lr_and_seed() -> None:
    from rnnbench.config import Config, config_hash

    spec = SweepSpec(bases=tuple(expand_bases(PAPER, ["jsb"], ["tanh"])), trials=2, seeds=1)
    for trial in materialize(spec):
        config = Config.model_validate(trial.config)
        assert config_hash(config) == trial.trial_id
        assert config.optim.lr == trial.lr
        assert config.seed == trial.seed
        assert (config.data.name, config.model.cell) == ("jsb", "tanh")


def test_the_default_grid_is_the_papers_twelve_pairs() -> None:
    bases = expand_bases(PAPER, None, None)
    assert len(bases) == len(PAPER_DATASETS) * len(paper_cells()) == 12
    assert all(base.path.is_file() for base in bases)


def test_a_file_with_datasets_is_swept_over_them_by_override() -> None:
    bases = expand_bases(PAPER / "jsb-gru.yaml", ["jsb,nottingham"], None)
    spec = SweepSpec(bases=tuple(bases), trials=1)
    assert [trial.dataset for trial in materialize(spec)] == ["jsb", "nottingham"]


def test_a_missing_pair_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"jsb-gru\.yaml: no config"):
        expand_bases(tmp_path, ["jsb"], ["gru"])

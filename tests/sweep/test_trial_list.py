from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rnnbench.errors import UsageError
from rnnbench.sweep.trial_list import TRIALS_CSV, TRIALS_JSON, read_trial_list, reconcile
from tests.sweep.helpers import make_trial

TRIALS = [make_trial(f"t{index}", lr=10.0**-index, seed=index % 2) for index in range(4)]


def test_a_new_results_dir_gets_the_list_as_json_and_csv(tmp_path: Path) -> None:
    reconciled = reconcile(tmp_path, TRIALS)
    assert (reconciled.stored, reconciled.added, reconciled.subset) == (0, 4, False)
    assert read_trial_list(tmp_path) == TRIALS
    rows = list(csv.DictReader((tmp_path / TRIALS_CSV).open()))
    assert [row["trial_id"] for row in rows] == ["t0", "t1", "t2", "t3"]
    assert float(rows[2]["lr"]) == pytest.approx(1e-2)
    assert not list(tmp_path.glob("*.tmp"))


def test_the_same_list_and_a_subset_are_accepted_unchanged(tmp_path: Path) -> None:
    reconcile(tmp_path, TRIALS)
    before = (tmp_path / TRIALS_JSON).read_bytes()
    assert reconcile(tmp_path, TRIALS).subset is False
    assert reconcile(tmp_path, TRIALS[:2]).subset is True
    assert (tmp_path / TRIALS_JSON).read_bytes() == before


def test_a_different_list_is_refused_naming_the_file(tmp_path: Path) -> None:
    reconcile(tmp_path, TRIALS)
    before = (tmp_path / TRIALS_JSON).read_bytes()
    with pytest.raises(UsageError, match=r"trials\.json holds a different sweep: 1 of .* --extend"):
        reconcile(tmp_path, [*TRIALS[:3], make_trial("other")])
    assert (tmp_path / TRIALS_JSON).read_bytes() == before


def test_extend_appends_only_the_new_trials(tmp_path: Path) -> None:
    reconcile(tmp_path, TRIALS[:2])
    reconciled = reconcile(tmp_path, TRIALS[1:], extend=True)
    assert (reconciled.stored, reconciled.added) == (2, 2)
    assert [trial.trial_id for trial in read_trial_list(tmp_path)] == ["t0", "t1", "t2", "t3"]


def test_a_corrupt_list_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / TRIALS_JSON).write_text(json.dumps({"format": 1, "trials": [{"trial_id": 3}]}))
    with pytest.raises(Exception, match=r"trials\.json: unreadable trial list"):
        reconcile(tmp_path, TRIALS)

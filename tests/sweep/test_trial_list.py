from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.sweep.trial_list import TRIALS_CSV, TRIALS_JSON, read_trial_list, reconcile
from tests.sweep.helpers import make_trial

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke.yaml"
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
    with pytest.raises(Exception, match=r"trials\.json: trial 1: trial_id: Input should be"):
        reconcile(tmp_path, TRIALS)


@pytest.mark.parametrize(
    "text",
    ["{not json", json.dumps({"format": 1, "trials": 5}), "[" * 100_000 + "]" * 100_000],
)
def test_an_unreadable_list_is_one_line(tmp_path: Path, text: str) -> None:
    (tmp_path / TRIALS_JSON).write_text(text)
    with pytest.raises(RnnbenchError, match=r"trials\.json: unreadable trial list") as caught:
        read_trial_list(tmp_path)
    assert "\n" not in str(caught.value)


def test_a_bad_trial_is_one_line_naming_the_file_trial_and_field(tmp_path: Path) -> None:
    reconcile(tmp_path, TRIALS)
    data = json.loads((tmp_path / TRIALS_JSON).read_text())
    data["trials"][2]["lr"] = "fast"
    data["trials"][2]["seed"] = "x"
    (tmp_path / TRIALS_JSON).write_text(json.dumps(data))
    args = ["sweep", str(SMOKE), "--trials", "1", "--results-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"error: {tmp_path / TRIALS_JSON}: trial 3 (t2): lr: Input should be a valid number, "
        "unable to parse string as a number (and 1 more)"
    )


def test_a_results_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "base.yaml"
    blocker.write_text("x")
    for command in (["sweep", str(SMOKE), "--trials", "1"], ["reproduce", "--quick"]):
        result = CliRunner().invoke(app, [*command, "--results-dir", str(blocker)])
        assert result.exit_code == 2
        assert result.stderr.strip() == (
            f"error: --results-dir {blocker}: is a file, expected a directory"
        )

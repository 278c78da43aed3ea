"""The trial list on disk: `<results-dir>/trials.json` (full configs) and `trials.csv` (a summary).

The list is the identity of a results directory. A later command may run the same list or a subset
of it (resuming part of a sweep); a list with trials the directory does not hold is refused unless
the caller asks to extend it, so two different sweeps are never mixed silently.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from rnnbench.config import first_validation_error
from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.io import atomic_write_json, atomic_write_text
from rnnbench.sweep.trials import Trial

TRIALS_JSON = "trials.json"
TRIALS_CSV = "trials.csv"
FORMAT = 1
CSV_COLUMNS = ("trial_id", "dataset", "cell", "variant", "hidden_size", "lr_index", "lr", "seed")


@dataclass(frozen=True)
class Reconciled:
    """How this command's trials relate to the results directory's list."""

    stored: int  # trials listed before this command (0: a new directory)
    added: int  # trials this command added to the list (only with extend)
    subset: bool  # this command runs only part of the stored list


def read_trial_list(results_dir: Path) -> list[Trial]:
    path = results_dir / TRIALS_JSON
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise RnnbenchError(f"{path}: unknown trial-list format {data.get('format')!r}")
        items = data["trials"]
        if not isinstance(items, list):
            raise TypeError("'trials' is not a list")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise RnnbenchError(f"{path}: unreadable trial list ({_one_line(exc)})") from None
    return [_trial(path, index, item) for index, item in enumerate(items)]


def _trial(path: Path, index: int, item: object) -> Trial:
    """One listed trial; a bad one is named by position and id, with its first bad field."""
    try:
        return Trial.model_validate(item)
    except ValidationError as exc:
        trial_id = item.get("trial_id") if isinstance(item, dict) else None
        name = f"trial {index + 1}" + (f" ({trial_id})" if isinstance(trial_id, str) else "")
        problem = first_validation_error(exc)
        raise RnnbenchError(f"{path}: {name}: {problem}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def write_trial_list(results_dir: Path, trials: Sequence[Trial]) -> None:
    """Write trials.json and trials.csv, each atomically (the JSON is the source of truth)."""
    payload = {"format": FORMAT, "trials": [trial.model_dump(mode="json") for trial in trials]}
    atomic_write_json(results_dir / TRIALS_JSON, payload)
    atomic_write_text(results_dir / TRIALS_CSV, trials_to_csv(trials))


def trials_to_csv(trials: Sequence[Trial]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for trial in trials:
        writer.writerow([getattr(trial, column) for column in CSV_COLUMNS])
    return buffer.getvalue()


def reconcile(results_dir: Path, trials: Sequence[Trial], *, extend: bool = False) -> Reconciled:
    """Record `trials` as the directory's list, or check them against the list already there."""
    if not (results_dir / TRIALS_JSON).exists():
        write_trial_list(results_dir, trials)
        return Reconciled(stored=0, added=len(trials), subset=False)
    stored = read_trial_list(results_dir)
    stored_ids = {trial.trial_id for trial in stored}
    new = [trial for trial in trials if trial.trial_id not in stored_ids]
    if new and not extend:
        raise UsageError(_mismatch_message(results_dir, stored, trials, new))
    if new:
        write_trial_list(results_dir, [*stored, *new])
    subset = len(trials) - len(new) < len(stored)
    return Reconciled(stored=len(stored), added=len(new), subset=subset)


def _mismatch_message(
    results_dir: Path, stored: Sequence[Trial], trials: Sequence[Trial], new: Sequence[Trial]
) -> str:
    example = new[0]
    return (
        f"{results_dir / TRIALS_JSON} holds a different sweep: {len(new)} of this command's "
        f"{len(trials)} trials are not among its {len(stored)} "
        f"(e.g. {example.dataset}/{example.cell} lr {example.lr:.3g} seed {example.seed}); "
        "the arguments changed since it was written. "
        "Use another --results-dir, or --extend to add these trials to it"
    )

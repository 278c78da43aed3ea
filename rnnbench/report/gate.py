"""The CI regression gate: save aggregated rows with a machine fingerprint; check new rows.

Test NLL may be worse than the baseline's by at most `nll_tolerance` nats per frame (absolute).
Throughput (training frames/s) may be lower by at most `speed_tolerance` (a fraction of the
baseline's); it is compared only when both sides ran on the same machine (equal fingerprints).
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnbench import __version__
from rnnbench.errors import UsageError
from rnnbench.io import atomic_write_json
from rnnbench.report.formats import to_records

if TYPE_CHECKING:
    import pandas as pd

BASELINE_SCHEMA = "rnnbench-baseline/1"
FINGERPRINT_KEYS = ("cpu_model", "cpu_cores", "torch_threads", "torch_version", "device")
LOCAL_COLUMNS = ("best_run",)  # paths on the machine that ran the suite: kept out of baselines
NLL_TOLERANCE = 0.05
SPEED_TOLERANCE = 0.25

Key = tuple[str, str, str]


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_fingerprint(rows: pd.DataFrame) -> dict[str, Any]:
    """What throughput depends on: this machine's CPU and cores, and the runs' torch threads
    (train.num_threads; null = one per core), torch version and device."""
    cores = os.cpu_count()
    column: Any = rows["num_threads"] if "num_threads" in rows.columns else [None]
    threads = {str(cores) if _missing(n) else str(int(n)) for n in column}
    return {
        "cpu_model": cpu_model(),
        "cpu_cores": cores,
        "torch_threads": ",".join(sorted(threads)),
        "torch_version": _joined(rows["torch_version"]),
        "device": _joined(rows["device"]),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _joined(values: Any) -> str:
    """Distinct non-empty values, sorted and comma-joined (devices may already be joined)."""
    parts = {
        part for value in values if isinstance(value, str) for part in value.split(",") if part
    }
    return ",".join(sorted(parts))


def save_baseline(path: Path, rows: pd.DataFrame, fingerprint: dict[str, Any]) -> None:
    """Write the baseline atomically: schema, time, fingerprint and every aggregated row."""
    atomic_write_json(
        path,
        {
            "schema": BASELINE_SCHEMA,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "rnnbench_version": __version__,
            "fingerprint": fingerprint,
            "rows": to_records(rows.drop(columns=list(LOCAL_COLUMNS), errors="ignore")),
        },
    )


@dataclass(frozen=True)
class Baseline:
    fingerprint: dict[str, Any]
    rows: dict[Key, dict[str, Any]]


def load_baseline(path: Path) -> Baseline:
    """Read and check a baseline file; any problem is a UsageError naming the file."""
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable baseline ({exc})") from exc
    except RecursionError:
        raise UsageError(f"{path}: unreadable baseline (JSON nested too deeply)") from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise UsageError(f"{path}: not an rnnbench baseline (expected schema '{BASELINE_SCHEMA}')")
    if not isinstance(data.get("fingerprint"), dict) or not isinstance(data.get("rows"), list):
        raise UsageError(f"{path}: invalid baseline (needs 'fingerprint' object and 'rows' list)")
    return Baseline(fingerprint=data["fingerprint"], rows=_baseline_rows(path, data["rows"]))


def _baseline_rows(path: Path, listed: list[Any]) -> dict[Key, dict[str, Any]]:
    """The baseline's rows by cell, each checked; a UsageError names the file and the row."""
    rows: dict[Key, dict[str, Any]] = {}
    numbers: dict[Key, int] = {}  # the row each cell came from
    for number, row in enumerate(listed):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in _KEY_FIELDS):
            raise UsageError(
                f"{path}: invalid baseline row {number} (needs dataset, cell, variant)"
            )
        problem = _row_problem(row)
        if problem:
            raise UsageError(f"{path}: invalid baseline row {number} ({problem})")
        if _key(row) in rows:  # which one to gate against would be a guess
            raise UsageError(
                f"{path}: invalid baseline row {number} (repeats the cell {key_name(_key(row))} "
                f"of row {numbers[_key(row)]})"
            )
        rows[_key(row)] = row
        numbers[_key(row)] = number
    return rows


_KEY_FIELDS = ("dataset", "cell", "variant")
GATED_FIELDS = ("nll_test", "frames_per_s")  # what check_against compares


def _row_problem(row: dict[str, Any]) -> str:
    """Why a baseline row cannot be gated against, or ''. Each gated field must be a finite number
    (throughput > 0); null only in a row of a group with no finished run (n_runs 0), which is how
    save_baseline writes such a row. A non-number must not turn into a comparison that never fails.
    """
    no_finished_run = _is_number(row.get("n_runs")) and row["n_runs"] == 0
    for name in GATED_FIELDS:
        if name not in row:
            return f"{name} missing"
        value = row[name]
        if value is None and no_finished_run:
            continue
        if not _is_number(value) or not math.isfinite(value):
            need = "null or a finite number (n_runs is 0)" if no_finished_run else "a finite number"
            return f"{name} must be {need}, got {_shown(value)}"
        if name == "frames_per_s" and value <= 0:
            return f"{name} must be > 0, got {_shown(value)}"
    return ""


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _key(row: dict[str, Any]) -> Key:
    return (str(row["dataset"]), str(row["cell"]), str(row["variant"]))


def key_name(key: Key) -> str:
    return "/".join(key)


@dataclass
class GateResult:
    regressions: list[str] = field(default_factory=list)  # one line per regressed cell and metric
    missing_current: list[Key] = field(default_factory=list)  # in the baseline, not in these runs
    missing_baseline: list[Key] = field(default_factory=list)  # new cells the baseline lacks
    passed: list[str] = field(default_factory=list)  # one line per cell that holds
    speed_compared: bool = False
    speed_note: str = ""

    @property
    def ok(self) -> bool:
        return not self.regressions and not self.missing_current


def fingerprint_difference(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The fingerprint fields that differ, as 'name: baseline -> current'."""
    return [
        f"{name}: {baseline.get(name)!r} -> {current.get(name)!r}"
        for name in FINGERPRINT_KEYS
        if baseline.get(name) != current.get(name)
    ]


def check_tolerances(nll_tolerance: float, speed_tolerance: float) -> None:
    if not (nll_tolerance >= 0 and math.isfinite(nll_tolerance)):
        raise UsageError(
            f"--nll-tolerance {nll_tolerance}: must be a finite number >= 0 (nats per frame)"
        )
    if not 0 <= speed_tolerance < 1:
        raise UsageError(f"--speed-tolerance {speed_tolerance}: must be in [0, 1) (a fraction)")


def check_against(
    baseline: Baseline,
    rows: pd.DataFrame,
    fingerprint: dict[str, Any],
    nll_tolerance: float = NLL_TOLERANCE,
    speed_tolerance: float = SPEED_TOLERANCE,
) -> GateResult:
    """Compare aggregated rows with the baseline, cell by cell."""
    check_tolerances(nll_tolerance, speed_tolerance)
    differences = fingerprint_difference(baseline.fingerprint, fingerprint)
    result = GateResult(speed_compared=not differences)
    result.speed_note = (
        "same machine fingerprint: throughput compared"
        if not differences
        else "machine fingerprint differs, throughput not compared (" + "; ".join(differences) + ")"
    )
    current = {_key(row): row for row in to_records(rows)}
    result.missing_current = sorted(set(baseline.rows) - set(current))
    result.missing_baseline = sorted(set(current) - set(baseline.rows))
    for key in sorted(set(current) & set(baseline.rows)):
        _check_cell(
            key, (baseline.rows[key], current[key]), (nll_tolerance, speed_tolerance), result
        )
    return result


def _check_cell(
    key: Key,
    sides: tuple[dict[str, Any], dict[str, Any]],
    tolerances: tuple[float, float],
    result: GateResult,
) -> None:
    """Append this cell's regressions (or its passing line) to the result."""
    (before, now), (nll_tolerance, speed_tolerance) = sides, tolerances
    name = key_name(key)
    failures = []
    nll_before, nll_now = _number(before.get("nll_test")), _number(now.get("nll_test"))
    if math.isnan(nll_now) and not math.isnan(nll_before):
        failures.append(f"{name}: no finite test NLL (baseline {nll_before:.4f}); diverged?")
    elif nll_now > nll_before + nll_tolerance:
        failures.append(
            f"{name}: test NLL {nll_now:.4f} > baseline {nll_before:.4f} + {nll_tolerance:g}"
            f" (worse by {nll_now - nll_before:+.4f} nats/frame)"
        )
    speed_before, speed_now = _number(before.get("frames_per_s")), _number(now.get("frames_per_s"))
    if result.speed_compared and math.isnan(speed_now) and not math.isnan(nll_now):
        failures.append(f"{name}: no throughput figure (baseline {speed_before:,.0f} frames/s)")
    elif result.speed_compared and speed_now < speed_before * (1 - speed_tolerance):
        failures.append(
            f"{name}: throughput {speed_now:,.0f} frames/s < baseline {speed_before:,.0f}"
            f" − {speed_tolerance:.0%} ({speed_now / speed_before - 1:+.1%})"
        )
    result.regressions.extend(failures)
    if not failures:
        result.passed.append(f"{name}: {_passing(nll_before, nll_now, speed_before, speed_now)}")


def _passing(nll_before: float, nll_now: float, speed_before: float, speed_now: float) -> str:
    """A held cell's line; NaN on either side means that side had no finished run."""
    if math.isnan(nll_now) and math.isnan(nll_before):
        return "no finished run, as in the baseline"
    if math.isnan(nll_before):
        return (
            f"test NLL {nll_now:.4f}, {speed_now:,.0f} frames/s"
            " (baseline: no finished run, nothing to compare)"
        )
    return (
        f"test NLL {nll_now:.4f} (baseline {nll_before:.4f}),"
        f" {speed_now:,.0f} frames/s (baseline {speed_before:,.0f})"
    )


def _number(value: Any) -> float:
    """A row's value as a float; NaN for null (load_baseline lets null through only for a group
    with no finished run, and aggregated rows hold NaN there)."""
    return float(value) if _is_number(value) else math.nan

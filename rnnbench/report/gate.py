"""The CI regression gate: save aggregated rows with a machine fingerprint; check new rows.

Test NLL may be worse than the baseline's by at most `nll_tolerance` nats per frame (absolute).
Throughput (training frames/s) may be lower by at most `speed_tolerance` (a fraction of the
baseline's); it is compared only when both sides ran on the same machine (equal fingerprints).

Like is compared with like: each baseline row records its protocol (the chosen runs' config less
the seed, report.load; `protocol_hash` is its short hash). Runs of a cell whose protocol differs
from the baseline's are refused as a whole (ProtocolMismatchError, exit 2, naming the fields that
differ) rather than gated: a 10-epoch run is not a regression of a 12-epoch one. Baselines written
before protocols were recorded are gated as before, without the check.
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
from rnnbench.records import nll_field
from rnnbench.report.formats import row_average, to_records
from rnnbench.report.load import protocol_hash

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


def save_baseline(
    path: Path,
    rows: pd.DataFrame,
    fingerprint: dict[str, Any],
    protocols: dict[Key, str] | None = None,
) -> None:
    """Write the baseline atomically: schema, time, fingerprint and every aggregated row, each
    with its protocol (`protocols`: JSON text per cell, Selection.protocol) where given."""
    records = to_records(rows.drop(columns=list(LOCAL_COLUMNS), errors="ignore"))
    for record in records:
        protocol = (protocols or {}).get(_key(record))
        if protocol is not None:
            record["protocol"] = json.loads(protocol)
            record["protocol_hash"] = protocol_hash(record["protocol"])
    atomic_write_json(
        path,
        {
            "schema": BASELINE_SCHEMA,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "rnnbench_version": __version__,
            "fingerprint": fingerprint,
            "rows": records,
        },
    )


@dataclass(frozen=True)
class Baseline:
    fingerprint: dict[str, Any]
    rows: dict[Key, dict[str, Any]]
    path: Path | None = None  # the file it was read from, named in errors


class ProtocolMismatchError(UsageError):
    """The runs gated were made under another protocol than the baseline's rows (exit 2)."""


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
    rows = _baseline_rows(path, data["rows"])
    return Baseline(fingerprint=data["fingerprint"], rows=rows, path=path)


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
    A recorded protocol must be an object.
    """
    if "protocol" in row and not isinstance(row["protocol"], dict):
        return f"protocol must be an object, got {_shown(row['protocol'])}"
    return _gated_problem(row, GATED_FIELDS)


def _gated_problem(row: dict[str, Any], fields: tuple[str, ...]) -> str:
    """Why a baseline row's gated fields cannot be gated against, or '' (see _row_problem)."""
    no_finished_run = _is_number(row.get("n_runs")) and row["n_runs"] == 0
    for name in fields:
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
    protocol_note: str = ""  # whether the protocols were checked

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
    *,
    protocols: dict[Key, str] | None = None,
) -> GateResult:
    """Compare aggregated rows with the baseline, cell by cell, on the test NLL of the rows'
    average (aggregate's `average`). `protocols` (JSON text per cell, Selection.protocol) are
    checked against the baseline's first: ProtocolMismatchError where they differ."""
    check_tolerances(nll_tolerance, speed_tolerance)
    nll_name = nll_field("test", row_average(rows))
    _check_gated_field(baseline, nll_name)
    differences = fingerprint_difference(baseline.fingerprint, fingerprint)
    result = GateResult(speed_compared=not differences)
    result.protocol_note = check_protocols(baseline, protocols or {})
    result.speed_note = (
        "same machine fingerprint: throughput compared"
        if not differences
        else "machine fingerprint differs, throughput not compared (" + "; ".join(differences) + ")"
    )
    current = {_key(row): row for row in to_records(rows)}
    result.missing_current = sorted(set(baseline.rows) - set(current))
    result.missing_baseline = sorted(set(current) - set(baseline.rows))
    for key in sorted(set(current) & set(baseline.rows)):
        sides = (baseline.rows[key], current[key])
        _check_cell(key, sides, (nll_tolerance, speed_tolerance), result, nll_name)
    return result


def _check_gated_field(baseline: Baseline, nll_name: str) -> None:
    """A UsageError when the baseline's rows cannot be gated on `nll_name` (the per-piece NLL in
    a baseline written before it was recorded)."""
    for key, row in baseline.rows.items():
        problem = _gated_problem(row, (nll_name,))
        if problem:
            raise UsageError(
                f"{baseline.path or 'baseline'}: cannot gate {key_name(key)} on {nll_name}"
                f" ({problem}); gate with --average pooled, or rewrite the baseline"
            )


def check_protocols(baseline: Baseline, protocols: dict[Key, str]) -> str:
    """A note on what was checked; ProtocolMismatchError, one line naming the cells and the
    fields that differ, when a cell's runs were made under another protocol than its baseline
    row records. Rows without a recorded protocol (older baselines) are not checked."""
    recorded = {key: row["protocol"] for key, row in baseline.rows.items() if "protocol" in row}
    if not recorded:
        return "the baseline records no protocols (written before they were): not checked"
    differing: dict[Key, list[str]] = {}
    for key in sorted(set(recorded) & set(protocols)):
        fields = protocol_difference(recorded[key], json.loads(protocols[key]))
        if fields:
            differing[key] = fields
    if differing:
        cells = ", ".join(key_name(key) for key in differing)
        described = sorted({field for found in differing.values() for field in found})
        raise ProtocolMismatchError(
            f"{baseline.path or 'baseline'}: the runs of {cells} were made under another protocol"
            f" than the baseline's ({'; '.join(described)}); gate runs of the baseline's"
            " configs, or rewrite the baseline with --save-baseline"
        )
    return "same protocol as the baseline"


def protocol_difference(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The protocol fields that differ, as 'name: baseline -> current' ('-': absent)."""
    names = sorted(set(baseline) | set(current))
    return [
        f"{name}: {_shown(baseline.get(name, '-'))} -> {_shown(current.get(name, '-'))}"
        for name in names
        if baseline.get(name) != current.get(name)
    ]


def _check_cell(
    key: Key,
    sides: tuple[dict[str, Any], dict[str, Any]],
    tolerances: tuple[float, float],
    result: GateResult,
    nll_name: str,
) -> None:
    """Append this cell's regressions (or its passing line) to the result."""
    (before, now), (nll_tolerance, speed_tolerance) = sides, tolerances
    name = key_name(key)
    failures = []
    nll_before, nll_now = _number(before.get(nll_name)), _number(now.get(nll_name))
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

"""Find run directories and load their records (metrics.json, history.csv, per_sequence.csv)."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnbench.config import (
    describe_yaml_error,
    fill_added_later_defaults,
    parse_recorded,
    read_yaml,
    schema_defaults,
)
from rnnbench.errors import ConfigError, UsageError
from rnnbench.records import (
    AVERAGES,
    CONFIG_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRICS_FILE,
    PER_SEQUENCE_COLUMNS,
    PER_SEQUENCE_FILE,
    SPLITS,
    RecordError,
    RunMetrics,
    nll_field,
    read_metrics,
    sequence_mean,
)
from rnnbench.sweep.state import RUNS_DIR

if TYPE_CHECKING:
    import pandas as pd

RUN_DIR_COLUMN = "run_dir"
SETTING_KEY_COLUMN = "setting_key"  # runs with equal keys differ at most in seed
SOURCE_COLUMN = "source"  # the results dir a run was written into (`run_source`)
PROTOCOL_COLUMN = "protocol"  # JSON of the flattened config less seed (`_config_fields`)
METRIC_COLUMNS = tuple(RunMetrics.model_fields)
# Fields of metrics.json that place a run without config.yaml in a family, with their config
# paths: such a family is compared with others on these fields only.
METRIC_CONFIG_PATHS = {
    "hidden_size": "model.hidden_size",
    "batch_size": "train.batch_size",
    "weight_noise": "optim.weight_noise",
}
# Fields of metrics.json that identify a setting when a run has no config.yaml.
METRIC_SETTING_FIELDS = (*METRIC_CONFIG_PATHS, "lr")
NO_CONFIG_MARK = "_no_config"  # family key of runs whose setting comes from metrics.json
# Config fields that do not change what a run learns: runs differing only here are one setting
# (and one protocol, what the gate compares). Torch threads change the speed only: a sweep run
# with one worker gives it both cores, so its seeds must still join the search's setting.
CONFIG_IGNORED = (
    ("seed",),
    ("data", "data_dir"),
    ("train", "eval_train_every"),
    ("train", "num_threads"),
)
# And out of a run's family: the fields a learning-rate search varies or a row already names.
FAMILY_IGNORED = (("optim", "lr"), ("model", "variant"))
FAMILY_COLUMN = "_family"
REPEATS_ATTR = "repeated_runs"  # DataFrame.attrs key: (dropped, kept) run dirs of one config
# history.csv columns that may be empty: nll_train skips epochs when train.eval_train_every > 1.
HISTORY_OPTIONAL = ("nll_train",)
# Cells read as empty (pandas' usual missing-value spellings), as compare always has.
EMPTY_CELLS = frozenset({"", "nan", "NaN", "-nan", "-NaN", "NA", "N/A", "<NA>", "null", "NULL"})


def find_run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Run directories named directly or found recursively by their metrics.json (following
    symlinked folders); sorted, unique by their real path."""
    found: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if path.is_file():
            if path.name != METRICS_FILE:
                raise UsageError(
                    f"{path}: expected a run directory, a folder of runs or a {METRICS_FILE}"
                )
            found.add(path.parent.resolve())
            continue
        found.update(_walk_runs(path))
    return sorted(found)


def _walk_runs(root: Path) -> set[Path]:
    """The folders under root that hold a metrics.json, symlinked folders followed; a folder
    reached twice (two links to it, or a link cycle) is searched once."""
    found: set[Path] = set()
    searched: set[Path] = set()
    for directory, subfolders, files in os.walk(root, followlinks=True):
        real = Path(directory).resolve()
        if real in searched:
            subfolders.clear()
            continue
        searched.add(real)
        if METRICS_FILE in files:
            found.add(real)
    return found


def load_runs(paths: Iterable[Path]) -> pd.DataFrame:
    """One row per run: every RunMetrics field (the per-piece NLLs computed from per_sequence.csv
    where metrics.json predates them), plus run_dir, source, protocol, setting_key and
    num_threads. UsageError when no run is found."""
    import pandas as pd

    paths = list(paths)
    run_dirs = find_run_dirs(paths)
    if not run_dirs:
        named = ", ".join(str(path) for path in paths)
        raise UsageError(f"no runs found (no {METRICS_FILE}) under {named}")
    records = []
    digests: dict[str, tuple[str, Path]] = {}  # dataset -> (data digest, first run dir with it)
    for run_dir in run_dirs:
        metrics = read_metrics(run_dir)
        _check_same_data(digests, metrics, run_dir)
        records.append(_run_row(run_dir, metrics))
    frame = _drop_repeats(pd.DataFrame.from_records(records))
    numeric = [nll_field(split, average) for split in SPLITS for average in AVERAGES]
    for column in (*numeric, "frame_acc_test"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    labelled = _label_families(frame).drop(columns=FAMILY_COLUMN)
    labelled.attrs[REPEATS_ATTR] = frame.attrs.get(REPEATS_ATTR, [])
    return labelled


def _run_row(run_dir: Path, metrics: RunMetrics) -> dict[str, Any]:
    """One run's row of load_runs."""
    row = {name: getattr(metrics, name) for name in METRIC_COLUMNS}
    row.update(_sequence_means(run_dir, row))
    row.update(_config_fields(run_dir, row))
    threads = (metrics.model_extra or {}).get("num_threads")  # torch threads the run really used
    if isinstance(threads, int):
        row["num_threads"] = threads
    row[RUN_DIR_COLUMN] = str(run_dir)
    row[SOURCE_COLUMN] = run_source(run_dir)
    return row


def run_source(run_dir: Path) -> str:
    """Where a run comes from: the results dir it was written into, i.e. the folder holding the
    run dir, or that folder's parent when it is a `runs` folder (sweeps, reproduce and
    `train --results-dir DIR` write DIR/runs/<id>). Relative to the working directory when below
    it. Runs of different sources are never pooled into one row (see _label_families)."""
    holder = run_dir.parent
    if holder.name == RUNS_DIR:
        holder = holder.parent
    try:
        return str(holder.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(holder)


def _sequence_means(run_dir: Path, row: dict[str, Any]) -> dict[str, float]:
    """The per-piece NLL fields metrics.json lacks (records written before they existed, null
    where the run has no result), computed from per_sequence.csv; {} when it has them all."""
    missing = {split: nll_field(split, "seqmean") for split in SPLITS}
    missing = {split: name for split, name in missing.items() if row[name] is None}
    if not missing:
        return {}
    means = read_sequence_means(run_dir)
    return {name: means[split] for split, name in missing.items()}


def read_sequence_means(run_dir: Path) -> dict[str, float]:
    """The per-piece mean NLL of each split (records.sequence_mean) from per_sequence.csv; NaN
    for a split without rows, and for every split of a run without the file (no result). Every
    row is checked like read_per_sequence's, but frames may be 0 (a one-frame piece predicts
    none) and nll_sum NaN (a run whose evaluation gave NaN: its mean is NaN, as its pooled NLL)."""
    path = run_dir / PER_SEQUENCE_FILE
    if not path.is_file():
        return dict.fromkeys(SPLITS, math.nan)
    pieces = _plain_pieces(path)
    if pieces is not None:
        return {split: sequence_mean(pieces.get(split, [])) for split in SPLITS}
    return _checked_sequence_means(path)


def _plain_pieces(path: Path) -> dict[str, list[tuple[int, float]]] | None:
    """(frames, nll_sum) per split of a per_sequence.csv as the trainer writes it, read fast;
    None at anything else (another column order, a doubtful value), which the checked reader
    then reads or names: this path only saves time, it accepts nothing that one refuses."""
    pieces: dict[str, list[tuple[int, float]]] = {}
    seen: set[tuple[str, int]] = set()
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != list(PER_SEQUENCE_COLUMNS):
                return None
            for split, index, frames, nll_sum in reader:
                if any("_" in field or field != field.strip() for field in (index, frames)):
                    return None  # int() accepts 1_000 and ' 4'; the checked reader may not
                key, count, value = (split, int(index)), int(frames), float(nll_sum)
                plain = "_" not in nll_sum and nll_sum == nll_sum.strip()
                if key[1] < 0 or count < 0 or not (plain and 0 <= value < math.inf) or key in seen:
                    return None
                seen.add(key)
                pieces.setdefault(split, []).append((count, value))
    except (OSError, ValueError, csv.Error):  # ValueError: a field count, a number, UTF-8
        return None
    return pieces


def _checked_sequence_means(path: Path) -> dict[str, float]:
    """read_sequence_means through the checked CSV reader: a RecordError names the line."""
    table = _read_csv(path, PER_SEQUENCE_COLUMNS)
    table["index"] = _numbers(path, table, "index", whole=True, minimum=0)
    frames = _numbers(path, table, "frames", whole=True, minimum=0)
    nll_sum = _numbers(path, table, "nll_sum", allow_empty=True, minimum=0)  # NaN: evaluated NaN
    repeated = table.duplicated(["split", "index"])
    if repeated.any():
        first = table[repeated].iloc[0]
        raise RecordError(
            f"{path}: duplicate sequence index {int(first['index'])} in split '{first['split']}'"
        )
    pieces = {split: table["split"] == split for split in SPLITS}
    return {
        split: sequence_mean(zip(frames[rows], nll_sum[rows], strict=True))
        for split, rows in pieces.items()
    }


def _check_same_data(
    digests: dict[str, tuple[str, Path]], metrics: RunMetrics, run_dir: Path
) -> None:
    """A RecordError when runs of one dataset name recorded different data digests (two imports
    under one name): pooling them, or counting one as a repeat of the other, would be wrong.
    Records without a digest (written before it was recorded) cannot be checked."""
    if metrics.data_digest is None:
        return
    digest, first = digests.setdefault(metrics.dataset, (metrics.data_digest, run_dir))
    if digest != metrics.data_digest:
        raise RecordError(
            f"runs of dataset '{metrics.dataset}' were trained on different data (content "
            f"digests differ): {first} and {run_dir}; import the datasets under different names"
        )


def _drop_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per config hash and source: two records of the same config (seed included) in one
    results dir, e.g. a run copied into two of its folders, are one run; counting both would fake
    a seed. The first run dir in sorted path order is kept; `frame.attrs[REPEATS_ATTR]` lists
    (dropped, kept) run dirs. A copy in another source stays: sources are never pooled."""
    keys = ["config_hash", SOURCE_COLUMN]
    repeated = frame.duplicated(keys, keep="first")
    kept = frame.loc[~repeated].set_index(keys)[RUN_DIR_COLUMN]
    pairs = [
        (str(row[RUN_DIR_COLUMN]), str(kept[(row["config_hash"], row[SOURCE_COLUMN])]))
        for _, row in frame.loc[repeated].iterrows()
    ]
    result = frame.loc[~repeated].reset_index(drop=True)
    result.attrs[REPEATS_ATTR] = pairs
    return result


def _label_families(frame: pd.DataFrame) -> pd.DataFrame:
    """A protocol is a unit: runs of one (dataset, cell, variant) are pooled, and a learning rate
    chosen among them, only when they share the config (all but lr and seed) and the source (the
    results dir, `run_source`). Every other family gets the difference appended to its `variant`,
    e.g. `paper, train.batch_size=1`, so it becomes a row of its own and is never chosen as the
    paper setting's best learning rate; `source=DIR` is added where the config alone does not tell
    two rows apart (a folder of extra learning rates, or a user's run, beside a search).

    The reference family, which keeps the plain variant, is the one with the most learning rates
    (the protocol's search), then the most runs, then the fewest settings off the schema's
    defaults (a search just started beside a one-run ablation), then the first in sort order.
    """
    frame = frame.copy()
    defaults = schema_defaults()
    keys = [FAMILY_COLUMN, SOURCE_COLUMN]
    for (_, _, variant), group in frame.groupby(["dataset", "cell", "variant"], sort=False):
        families = group.groupby(keys, sort=True).agg(lrs=("lr", "nunique"), runs=("lr", "size"))
        if len(families) < 2:
            continue
        families["off_default"] = [
            _off_default(json.loads(str(family)), defaults) for family, _ in families.index
        ]
        ranked = families.sort_values(
            ["lrs", "runs", "off_default"], ascending=[False, False, True], kind="stable"
        )
        labels = _family_labels([(str(f), str(source)) for f, source in ranked.index])
        for (family, source), label in labels.items():
            rows = group.index[(group[FAMILY_COLUMN] == family) & (group[SOURCE_COLUMN] == source)]
            frame.loc[rows, "variant"] = f"{variant}, {label}"
    return frame


def _family_labels(ranked: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """What each (family, source) but the first (the reference) adds to its variant: its config
    difference from the reference, plus its source where that difference is empty or shared."""
    reference = json.loads(ranked[0][0])
    differences = {key: _difference(json.loads(key[0]), reference) for key in ranked[1:]}
    counts = Counter(differences.values())
    labels: dict[tuple[str, str], str] = {}
    for (family, source), difference in differences.items():
        parts = [difference] if difference else []
        if not difference or counts[difference] > 1:
            parts.append(f"source={source}")
        labels[(family, source)] = ", ".join(parts)
    return labels


def _off_default(family: dict[str, Any], defaults: dict[str, Any]) -> int:
    """How many of a family's settings differ from the schema's defaults."""
    return sum(1 for key, value in family.items() if key in defaults and value != defaults[key])


def _difference(family: dict[str, Any], reference: dict[str, Any]) -> str:
    """`a.b=value` for every field whose value differs from the reference's, sorted.

    Where one side has no config.yaml, only the fields metrics.json records are compared (the
    rest are unknown, not different) and the label says which side lacks the file.
    """
    family_bare, reference_bare = NO_CONFIG_MARK in family, NO_CONFIG_MARK in reference
    if family_bare == reference_bare:
        keys = sorted(set(family) | set(reference))
    else:
        keys = sorted((set(family) & set(reference)) - {NO_CONFIG_MARK})
    parts = [
        f"{key}={family.get(key, '-')}" for key in keys if family.get(key) != reference.get(key)
    ]
    if family_bare != reference_bare:
        parts.append("no config.yaml" if family_bare else "with config.yaml")
    return ", ".join(parts)


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _config_fields(run_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """setting_key, num_threads and, for a run on the first N sequences only, a dataset name that
    says so (such runs are never pooled with, or compared to the paper as, the full dataset)."""
    config = _read_config(run_dir)
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    fields: dict[str, Any] = {"num_threads": train.get("num_threads") if train else None}
    subset = data.get("max_sequences") if data else None
    if isinstance(subset, int):
        fields["dataset"] = f"{metrics['dataset']} (first {subset})"
    if config:
        for path in CONFIG_IGNORED:
            _drop(config, path)
        fill_added_later_defaults(config)  # an older record and a newer one: one setting
        identity: Any = config
    else:
        identity = {name: metrics[name] for name in METRIC_SETTING_FIELDS}
    text = json.dumps(identity, sort_keys=True, default=str)
    fields[SETTING_KEY_COLUMN] = hashlib.sha256(text.encode()).hexdigest()[:16]
    protocol = _protocol(identity) if config else _bare_protocol(metrics)
    fields[PROTOCOL_COLUMN] = json.dumps(protocol, sort_keys=True, default=str)
    family = {key: value for key, value in protocol.items() if key not in FAMILY_KEYS}
    fields[FAMILY_COLUMN] = json.dumps(family, sort_keys=True, default=str)
    return fields


FAMILY_KEYS = frozenset(".".join(path) for path in FAMILY_IGNORED)


def _protocol(identity: dict[str, Any]) -> dict[str, Any]:
    """A run's protocol: its config (less CONFIG_IGNORED) flattened to `a.b` keys; the learning
    rate included."""
    return _flatten(identity)


def _bare_protocol(metrics: dict[str, Any]) -> dict[str, Any]:
    """The protocol of a run without config.yaml: what metrics.json records of its config."""
    protocol = {path: metrics[name] for name, path in METRIC_CONFIG_PATHS.items()}
    protocol.update({"optim.lr": metrics["lr"], NO_CONFIG_MARK: True})
    return protocol


def protocol_hash(protocol: dict[str, Any]) -> str:
    """A short stable hash of a protocol (the config hash less the seed, as the gate records it)."""
    text = json.dumps(protocol, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _read_config(run_dir: Path) -> dict[str, Any]:
    """The run's resolved config.yaml as a mapping; {} when the run has none (older records: the
    setting is then taken from metrics.json). A config.yaml that is there but cannot be read as a
    YAML mapping, or fails the training schema (rnnbench.config), is a RecordError: guessing would
    relabel the run or pool it with the wrong ones."""
    import yaml

    path = run_dir / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise RecordError(f"{path}: unreadable config (not UTF-8 text)") from None
    except OSError as exc:
        raise RecordError(f"{path}: unreadable config ({exc.strerror or exc})") from None
    try:
        loaded = read_yaml(text)
    except yaml.YAMLError as exc:
        raise RecordError(f"{path}: unreadable config ({describe_yaml_error(exc)})") from None
    except RecursionError:
        raise RecordError(f"{path}: unreadable config (nested too deeply)") from None
    if not isinstance(loaded, dict):
        raise RecordError(f"{path}: invalid config (expected a mapping at the top level)")
    try:
        parse_recorded(loaded, str(path))
    except ConfigError as exc:
        raise RecordError(str(exc)) from None
    return loaded


def _drop(mapping: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = mapping
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def read_history(run_dir: Path) -> pd.DataFrame:
    """history.csv of one run, checked for the contract's columns; every column is numeric (float).
    Only nll_train may be empty (NaN: it skips epochs when train.eval_train_every > 1)."""
    path = run_dir / HISTORY_FILE
    table = _read_csv(path, HISTORY_COLUMNS)
    for column in HISTORY_COLUMNS:
        table[column] = _numbers(path, table, column, allow_empty=column in HISTORY_OPTIONAL)
    return table


def read_per_sequence(run_dir: Path, split: str = "test") -> pd.DataFrame:
    """per_sequence.csv rows of one split, indexed by sequence index: columns frames, nll_sum.

    Index and frames must be whole numbers (frames > 0), nll_sum a finite number >= 0: a
    RecordError names the file, line and field otherwise."""
    path = run_dir / PER_SEQUENCE_FILE
    table = _read_csv(path, PER_SEQUENCE_COLUMNS)
    rows = table[table["split"] == split].copy()
    if rows.empty:
        raise RecordError(f"{path}: no rows for split '{split}'")
    rows["index"] = _numbers(path, rows, "index", whole=True, minimum=0)
    rows["frames"] = _numbers(path, rows, "frames", whole=True, minimum=1)
    rows["nll_sum"] = _numbers(path, rows, "nll_sum", minimum=0)
    rows = rows.astype({"index": "int64", "frames": "int64"})
    if rows["index"].duplicated().any():
        duplicate = int(rows["index"][rows["index"].duplicated()].iloc[0])
        raise RecordError(f"{path}: duplicate sequence index {duplicate} in split '{split}'")
    return rows.set_index("index")[["frames", "nll_sum"]].sort_index()


def _numbers(
    path: Path,
    table: pd.DataFrame,
    column: str,
    *,
    allow_empty: bool = False,
    whole: bool = False,
    minimum: float | None = None,
) -> pd.Series:
    """One column as floats; a RecordError naming file, line and column for the first value that
    is not a number (or empty, not finite, not whole, below minimum, as asked)."""
    import numpy as np
    import pandas as pd

    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    empty = raw.isna()
    problems = [
        (values.isna() & ~empty, "is not a number"),
        (values.notna() & ~np.isfinite(values.fillna(0.0)), "is not finite"),
    ]
    if not allow_empty:
        problems.append((empty, "is empty"))
    if whole:
        problems.append((values.notna() & (values != values.round()), "is not a whole number"))
    if minimum is not None:
        problems.append((values < minimum, f"is below {minimum:g}"))
    bad = [(int(np.flatnonzero(mask.to_numpy())[0]), what) for mask, what in problems if mask.any()]
    if bad:
        position, what = min(bad)  # the first bad line
        label = table.index[position]  # read_csv's row number: line = row + 2 (header)
        line = int(label) + 2 if isinstance(label, int | np.integer) else position + 2
        value = "" if bool(empty.iloc[position]) else f" '{raw.iloc[position]}'"
        raise RecordError(f"{path}: line {line}: {column}{value} {what}")
    return values


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The CSV's cells as text (None where empty), indexed by line number - 2 (the header is line
    1). A row whose field count differs from the header's, or a blank row, is a RecordError naming
    the line: pandas would shift the columns or fill the row with empty cells."""
    import pandas as pd

    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header, rows, labels = _csv_rows(path, csv.reader(handle))
    except FileNotFoundError as exc:
        raise RecordError(f"{path}: missing") from exc
    except (OSError, ValueError, csv.Error) as exc:  # ValueError: invalid UTF-8
        raise RecordError(f"{path}: unreadable ({_one_line(exc)})") from exc
    missing = [column for column in columns if column not in header]
    if missing:
        raise RecordError(f"{path}: missing column(s) {', '.join(missing)}")
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise RecordError(f"{path}: column(s) {', '.join(repeated)} appear twice in the header")
    return pd.DataFrame(rows, columns=header, index=labels, dtype=object)


def _csv_rows(path: Path, reader: Any) -> tuple[list[str], list[list[str | None]], list[int]]:
    """Header, rows and their index labels (line - 2) from a csv.reader; see _read_csv."""
    header: list[str] = next(reader, [])
    if not header:
        raise RecordError(f"{path}: empty (no header row)")
    rows: list[list[str | None]] = []
    labels: list[int] = []
    for fields in reader:
        if not any(field.strip() for field in fields):
            raise RecordError(f"{path}: line {reader.line_num}: blank row")
        if len(fields) != len(header):
            raise RecordError(
                f"{path}: line {reader.line_num}: {len(fields)} fields, expected {len(header)}"
                " (as in the header)"
            )
        rows.append([None if field.strip() in EMPTY_CELLS else field for field in fields])
        labels.append(reader.line_num - 2)
    return header, rows, labels


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())

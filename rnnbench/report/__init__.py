"""Aggregation of run records, the paper's Table 2 (data), statistics, plots, regression gate.

Typical use:

    runs = load_runs([Path("results/paper")])  # one row per run (RunMetrics fields + run_dir)
    result = aggregate(runs)                   # one row per (dataset, cell, variant); pass
                                               # "seqmean" to choose by the per-piece mean NLL
    rows = add_paper_columns(result.rows)      # + paper_nll_train / paper_nll_test / deltas
    pairs = cell_pairs(result)                 # paired bootstrap: GRU − LSTM, GRU − tanh, ...
    write_plots(result, runs, Path("plots"))   # Figure 2 per dataset + test NLL chart, PNG and SVG
"""

from rnnbench.report.aggregate import Aggregate, Selection, add_paper_columns, aggregate
from rnnbench.report.gate import (
    Baseline,
    GateResult,
    ProtocolMismatchError,
    check_against,
    check_tolerances,
    load_baseline,
    machine_fingerprint,
    save_baseline,
)
from rnnbench.report.load import find_run_dirs, load_runs, read_history, read_per_sequence
from rnnbench.report.paired import cell_pairs
from rnnbench.report.paper import paper_table
from rnnbench.report.plots import write_plots
from rnnbench.report.stats import paired_bootstrap, summarize_seeds

__all__ = [
    "Aggregate",
    "Baseline",
    "GateResult",
    "ProtocolMismatchError",
    "Selection",
    "add_paper_columns",
    "aggregate",
    "cell_pairs",
    "check_against",
    "check_tolerances",
    "find_run_dirs",
    "load_baseline",
    "load_runs",
    "machine_fingerprint",
    "paired_bootstrap",
    "paper_table",
    "read_history",
    "read_per_sequence",
    "save_baseline",
    "summarize_seeds",
    "write_plots",
]

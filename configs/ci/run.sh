#!/usr/bin/env bash
# The CI regression suite: train tanh, GRU and LSTM on JSB Chorales (configs/ci/jsb-*.yaml, a few
# minutes on 2 CPU cores), then gate the results against the committed baseline.
#
#   configs/ci/run.sh                     # train into runs/ci, gate against configs/ci/baseline.json
#   configs/ci/run.sh --save-baseline     # train, then rewrite configs/ci/baseline.json (commit it)
#
# Environment: RESULTS (default runs/ci), BASELINE (default configs/ci/baseline.json),
# RNNBENCH_DATA_DIR / RNNBENCH_MIRROR as for `rnnbench train`. Exit status: that of
# `rnnbench compare` (0 all cells hold, 1 a cell regressed or is missing, 2 usage error).
set -euo pipefail
cd "$(dirname "$0")/../.."

results="${RESULTS:-runs/ci}"
baseline="${BASELINE:-configs/ci/baseline.json}"

rm -rf "$results"
for config in configs/ci/jsb-*.yaml; do
    rnnbench train "$config" --results-dir "$results"
done

if [[ "${1:-}" == "--save-baseline" ]]; then
    rnnbench compare "$results" --paper --save-baseline "$baseline"
else
    rnnbench compare "$results" --paper --stats --plot "$results/plots" --baseline "$baseline"
fi

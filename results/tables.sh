#!/usr/bin/env bash
# Regenerate the committed tables from the run records under results/ (run it after committing
# finished runs, then commit the tables with them). Each line is one table; the same lines are
# what tests/report/test_committed_results.py runs on a copy of the git-tracked records, failing
# when a committed table differs from what they print.
#
#   results/tables.sh            # from anywhere; writes results/table2.md, table2-batch1.md,
#                                # ablations.md and the quick budget (rnnbench/sweep/quick.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."

rnnbench compare results/paper --paper --stats --format markdown --output results/table2.md
rnnbench compare results/paper-batch1 --paper --stats --format markdown --output results/table2-batch1.md
rnnbench compare results/paper results/ablations --paper --format markdown --output results/ablations.md
python -m rnnbench.sweep.derive_quick results/paper-batch1 results/ablations
# Figure 2 (learning curves) and the test-NLL chart of the headline protocol.
rnnbench compare results/paper-batch1 --plot results/figures-batch1 >/dev/null
# The README's headline table is a copy of table2-batch1.md (tests/report/test_readme.py).
python - <<'PY'
from pathlib import Path
readme, table = Path("README.md"), Path("results/table2-batch1.md").read_text()
if readme.is_file():
    start, end = "<!-- table2-batch1:", "<!-- /table2-batch1 -->"
    text = readme.read_text()
    head, rest = text.split(start)
    marker, _ = rest.split("-->\n", 1)
    tail = rest.split(end)[1]
    readme.write_text(f"{head}{start}{marker}-->\n{table}{end}{tail}")
PY

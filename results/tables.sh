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
repo=$PWD

# Work on a copy of the git-tracked files under results/ and the README, as a clean clone has them
# (and as the test does): the run directories of a sweep still in progress are untracked, so they
# stay out of the tables. The outputs are copied back at the end.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  git ls-files -z -- results README.md | xargs -0 cp --parents -t "$scratch"
  cd "$scratch"
fi

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

if [ "$PWD" != "$repo" ]; then
  cp results/table2.md results/table2-batch1.md results/ablations.md "$repo/results/"
  mkdir -p "$repo/results/figures-batch1"
  cp -R results/figures-batch1/. "$repo/results/figures-batch1/"
  if [ -f README.md ]; then cp README.md "$repo/README.md"; fi
fi

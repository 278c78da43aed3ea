"""Write the quick budget, rnnbench/sweep/quick.yaml, from committed run records (how:
rnnbench/sweep/quick.py), priced by the committed quick run in results/quick; results/tables.sh
runs it with the committed tables:

    python -m rnnbench.sweep.derive_quick results/paper-batch1 results/ablations
"""

from __future__ import annotations

import sys
from pathlib import Path

from rnnbench.io import atomic_write_text
from rnnbench.sweep.grid import directory_pairs, paper_config_dir
from rnnbench.sweep.quick import QUICK_FILE, TIMING_ROOT, derive_plan, render_plan


def derived_budget(roots: list[str]) -> str:
    """quick.yaml's text for the records under `roots` (paths as given, named in its header),
    priced by the quick run under TIMING_ROOT (relative to the working directory)."""
    pairs = directory_pairs(paper_config_dir(), [], [])
    protocols = {(dataset, cell): base.load() for dataset, cell, base in pairs}
    plan = derive_plan([Path(root) for root in roots], protocols, timing=Path(TIMING_ROOT))
    return render_plan(plan, roots)


def main(roots: list[str]) -> None:
    target = Path(__file__).with_name(QUICK_FILE)
    atomic_write_text(target, derived_budget(roots))
    sys.stderr.write(f"wrote {target}\n")


if __name__ == "__main__":
    main(sys.argv[1:])

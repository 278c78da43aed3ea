"""Plugin-cell fixtures: the example package (examples/mgu) on the path, an entry point registered
through a real dist-info directory (JSB from the mirror: tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "mgu"
MGU = "mgu.cells:MGU"


def prepend_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Importable here (sys.path) and in every process started from here (PYTHONPATH: sweep
    workers, Ray, subprocesses)."""
    monkeypatch.syspath_prepend(str(directory))
    existing = os.environ.get("PYTHONPATH")
    paths = [str(directory), *([existing] if existing else [])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture
def mgu_importable(jsb_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """examples/mgu importable as `mgu.cells:MGU` (not installed); the JSB data dir; the
    environment for subprocesses."""
    prepend_path(monkeypatch, EXAMPLE)
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(jsb_data_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield {**os.environ}


def write_distribution(
    site: Path, name: str, version: str, entry_points: dict[str, str], top_level: str
) -> None:
    """A distribution's installed metadata (.dist-info), as pip leaves it: importlib.metadata
    finds it on sys.path like any installed package."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"{key} = {value}" for key, value in entry_points.items()]
    (info / "entry_points.txt").write_text("[rnnbench.cells]\n" + "\n".join(lines) + "\n")
    (info / "top_level.txt").write_text(top_level + "\n")


@pytest.fixture
def mgu_installed(
    mgu_importable: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The example installed as pip would: distribution rnnbench-mgu 0.1.0 with the entry point
    `mgu = mgu.cells:MGU` (its metadata in a site directory on the path, its code in examples/)."""
    site = tmp_path / "site-packages"
    write_distribution(site, "rnnbench-mgu", "0.1.0", {"mgu": MGU}, "mgu")
    prepend_path(monkeypatch, site)
    return {**os.environ}

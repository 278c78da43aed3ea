"""`train`, `sweep` and `reproduce` fetch a missing built-in dataset themselves, through the real
download path (loopback HTTP), and say what they fetched. Offline, or with every source failing:
one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.data import builtin_specs, load
from rnnbench.data.registry import Source
from rnnbench.records import read_metrics
from tests.conftest import REPO_ROOT

SMOKE = str(REPO_ROOT / "configs" / "smoke.yaml")
JSB_GRU = str(REPO_ROOT / "configs" / "paper" / "jsb-gru.yaml")
TINY = ["--set", "data.max_sequences=6", "--set", "model.hidden_size=4"]
TINY += ["--set", "train.max_epochs=1"]
Serve = Callable[[Path], tuple[str, list[str]]]


@pytest.fixture(autouse=True)
def _no_mirror_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test names its sources; $RNNBENCH_MIRROR (set for the test session) must not add one."""
    monkeypatch.delenv("RNNBENCH_MIRROR", raising=False)
    monkeypatch.delenv("RNNBENCH_OFFLINE", raising=False)


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.mirror
def test_train_fetches_a_missing_dataset_once_and_says_from_where(
    mirror_dir: Path, serve_folder: Serve, dead_url: str, tmp_path: Path
) -> None:
    url, requested = serve_folder(mirror_dir)
    data_dir = tmp_path / "data"
    train = ["train", SMOKE, "--set", f"data.data_dir={data_dir}", *TINY, "--offline"]
    sources = ["--mirror", dead_url, "--mirror", url]  # the first one refuses connections

    code, _, stderr = invoke(*train, "--run-dir", tmp_path / "first", *sources)
    assert code == 0, stderr
    assert lines(stderr)[:3] == [
        f"skipped {dead_url}/JSB_Chorales.mat: unreachable (Connection refused)",
        f"skipped {dead_url}/JSB%20Chorales.pickle: unreachable (Connection refused)",
        f"fetched jsb from {url}/JSB_Chorales.mat into {data_dir / 'jsb.npz'} "
        "(sha256 and content digest verified)",
    ]
    assert load("jsb", data_dir).digest == builtin_specs()["jsb"].digest
    assert read_metrics(tmp_path / "first").data_digest == builtin_specs()["jsb"].digest

    code, _, stderr = invoke(*train, "--run-dir", tmp_path / "second", *sources)
    assert code == 0, stderr
    assert "fetched" not in stderr and "skipped" not in stderr
    assert requested == ["/JSB_Chorales.mat"]  # one download for both runs


@pytest.mark.mirror
@pytest.mark.slow
def test_a_sweep_fetches_once_before_its_workers_start(
    mirror_dir: Path, serve_folder: Serve, tmp_path: Path
) -> None:
    url, requested = serve_folder(mirror_dir)
    data_dir = tmp_path / "data"
    code, stdout, stderr = invoke(
        "sweep", JSB_GRU, "--trials", "2", "--workers", "2", *TINY,
        "--set", f"data.data_dir={data_dir}", "--results-dir", tmp_path / "results",
        "--mirror", url, "--offline",
    )  # fmt: skip
    assert code == 0, stderr
    assert "2 trials: 0 finished earlier, 2 ok" in stdout
    assert stderr.count("fetched jsb from") == 1
    assert requested == ["/JSB_Chorales.mat"]


OFFLINE_BY = {  # how offline was asked for: (what the error calls it, how to undo it)
    "flag": ("--offline", "drop --offline"),
    "env": ("RNNBENCH_OFFLINE is set", "unset RNNBENCH_OFFLINE"),
}


@pytest.mark.parametrize(
    ("command", "how"),
    [("train", "flag"), ("train", "env"), ("sweep", "flag"), ("reproduce", "env")],
)
def test_offline_with_a_missing_dataset_and_no_mirror_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, how: str
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(data_dir))
    if how == "env":
        monkeypatch.setenv("RNNBENCH_OFFLINE", "1")
    setting, undo = OFFLINE_BY[how]
    arguments = {
        "train": ["train", SMOKE, "--run-dir", tmp_path / "run"],
        "sweep": ["sweep", JSB_GRU, "--trials", "1", "--results-dir", tmp_path / "results"],
        "reproduce": [
            "reproduce", "--datasets", "jsb", "--cells", "gru", "--trials", "1",
            "--results-dir", tmp_path / "results",
        ],
    }[command]  # fmt: skip
    code, _, stderr = invoke(*arguments, *(["--offline"] if how == "flag" else []))
    assert code == 1, stderr
    errors = [line for line in lines(stderr) if line.startswith("error:")]
    assert errors == [
        f"error: dataset 'jsb' is not in {data_dir}, and offline ({setting}) with no mirror "
        "there is nowhere to fetch it from: use --mirror DIR (a folder holding the files) or "
        f"RNNBENCH_MIRROR, or {undo}"
    ]
    assert errors == lines(stderr)[-1:] and "Traceback" not in stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "results" / "runs").exists()


def _only_source(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Give jsb one public address for this test (the registry dict is restored after)."""
    specs = builtin_specs()
    source = Source(url=url, format="mat")
    monkeypatch.setitem(specs, "jsb", specs["jsb"].model_copy(update={"sources": (source,)}))


@pytest.mark.parametrize("offline", [False, True])
def test_every_source_failing_names_each_address_once_in_one_line(
    dead_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: bool
) -> None:
    public = f"{dead_url}/public/JSB_Chorales.mat"
    _only_source(monkeypatch, public)
    folder = tmp_path / "empty-mirror"
    folder.mkdir()
    run = ["train", SMOKE, "--set", f"data.data_dir={tmp_path / 'data'}", "--run-dir", tmp_path]
    mirrors = ["--mirror", folder, "--mirror", dead_url]
    code, stdout, stderr = invoke(*run, *mirrors, *(["--offline"] if offline else []))
    assert code == 1 and stdout == ""
    (line,) = lines(stderr)
    tried = [
        f"{folder / 'JSB_Chorales.mat'}: no such file",
        f"{dead_url}/JSB_Chorales.mat: unreachable (Connection refused)",
        *([] if offline else [f"{public}: unreachable (Connection refused)"]),
    ]
    what_next = (
        "offline, only the mirrors were tried: use --mirror DIR with a folder holding the files, "
        "or drop --offline / RNNBENCH_OFFLINE"
        if offline
        else "without network access, put the files in a folder and use --mirror DIR "
        "(with --offline to skip the public addresses)"
    )
    assert line == (
        f"error: could not fetch 'jsb', {len(tried)} sources tried: {'; '.join(tried)}; {what_next}"
    )
    for address in (folder / "JSB_Chorales.mat", f"{dead_url}/JSB_Chorales.mat", public):
        assert stderr.count(str(address)) == (0 if offline and address == public else 1)

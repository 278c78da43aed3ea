"""Config loading, overrides, hashing, and every config error as one line with exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnbench.cli import app
from rnnbench.config import config_hash, config_to_yaml, load_config, parse_recorded, read_yaml
from rnnbench.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PAPER_SIZES = {"tanh": 100, "gru": 46, "lstm": 36}
DATASETS = ("jsb", "nottingham", "musedata", "piano-midi")

VALID = """\
data:
  name: jsb
model:
  cell: gru
  hidden_size: 8
optim:
  lr: 0.01
"""


def test_the_twelve_paper_configs_follow_the_paper() -> None:
    files = sorted(path.name for path in (REPO / "configs" / "paper").glob("*.yaml"))
    assert files == sorted(f"{d}-{c}.yaml" for d in DATASETS for c in PAPER_SIZES)
    for name in files:
        config = load_config(REPO / "configs" / "paper" / name)
        dataset, cell = name.removesuffix(".yaml").rsplit("-", 1)
        assert (config.data.name, config.model.cell) == (dataset, cell)
        assert config.model.variant == "paper" and config.model.init == "paper"
        assert config.model.hidden_size == PAPER_SIZES[cell]
        assert (config.optim.weight_noise, config.optim.clip_norm) == (0.075, 1.0)


def test_smoke_config_is_small() -> None:
    config = load_config(REPO / "configs" / "smoke.yaml")
    assert config.train.max_epochs <= 5 and config.data.max_sequences


def test_overrides_are_yaml_scalars_and_names_are_canonical(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(VALID)
    config = load_config(
        path, ["optim.lr=3e-3", "train.num_threads=null", "data.name=JSB Chorales", "seed=7"]
    )
    assert config.optim.lr == 0.003 and config.train.num_threads is None
    assert config.data.name == "jsb" and config.seed == 7


def test_hash_is_stable_and_tracks_what_the_run_computes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(VALID)
    base = load_config(path)
    assert config_hash(base) == config_hash(load_config(path))
    assert len(config_hash(base)) == 12
    reloaded = tmp_path / "again.yaml"
    reloaded.write_text(config_to_yaml(base))
    assert load_config(reloaded) == base and config_hash(load_config(reloaded)) == config_hash(base)
    assert config_hash(load_config(path, ["optim.lr=0.02"])) != config_hash(base)
    # where and how fast a run executes is not part of its identity
    same = load_config(path, [f"data.data_dir={tmp_path}", "train.num_threads=2"])
    assert config_hash(same) == config_hash(base)
    lstm = load_config(path, ["model.cell=lstm"])
    assert config_hash(load_config(path, ["model.cell=lstm", "model.peepholes=false"])) != (
        config_hash(lstm)
    )


def test_committed_runs_keep_their_ids_under_the_current_schema() -> None:
    """Every committed config.yaml (most written before model.peepholes existed) still hashes to
    the config_hash its metrics.json recorded: a new config field must not rename old runs, or
    sweeps would re-run them and --extend would not find them. Read as records are read
    (parse_recorded), so a run on a dataset imported elsewhere needs no import here."""
    configs = sorted((REPO / "results").rglob("config.yaml"))
    assert len(configs) > 100
    for path in configs:
        recorded = json.loads((path.parent / "metrics.json").read_text())["config_hash"]
        config = parse_recorded(read_yaml(path.read_text()), str(path))
        assert config_hash(config) == recorded, path


ERROR_CASES = {
    "unknown top-level key": (VALID + "bogus: 1\n", [], "bogus: unknown key"),
    "unknown nested key": (VALID + "  momentum: 0.9\n", [], "optim.momentum: unknown key"),
    "wrong type": (VALID.replace("hidden_size: 8", "hidden_size: many"), [], "model.hidden_size"),
    "bad choice": (VALID + "device: gpu\n", [], "device"),
    "negative lr": (VALID.replace("lr: 0.01", "lr: -0.001"), [], "optim.lr"),
    "zero lr": (VALID, ["optim.lr=0"], "optim.lr"),
    "unknown dataset": (VALID.replace("name: jsb", "name: jsbb"), [], "data.name: unknown dataset"),
    "unknown cell": (VALID.replace("cell: gru", "cell: rnn"), [], "model.cell: unknown cell"),
    "bad variant": (VALID, ["model.variant=fast"], "model.variant"),
    "missing key": (VALID.replace("  cell: gru\n", ""), [], "model.cell: missing"),
    "empty section": (VALID.replace("  lr: 0.01\n", ""), [], "optim: expected a mapping"),
    "yaml syntax": ("model: [unclosed\n", [], "YAML syntax error at line"),
    "not a mapping": ("- a\n- b\n", [], "expected a mapping"),
    "set without =": (VALID, ["optim.lr"], "--set 'optim.lr'"),
    "set into a scalar": (VALID, ["model.cell.x=1"], "'model.cell' is not a section"),
    "set unknown key": (VALID, ["optim.momentum=0.9"], "optim.momentum: unknown key"),
    "set bad yaml": (VALID, ["optim.lr=[1"], "not a YAML scalar"),
    "weight noise negative": (VALID, ["optim.weight_noise=-1"], "optim.weight_noise"),
    "batch size zero": (VALID, ["train.batch_size=0"], "train.batch_size"),
    "forget bias without lstm": (VALID, ["model.init=paper-forget1"], "applies to the lstm cell"),
    "peepholes off a cell without": (VALID, ["model.peepholes=false"], "not paper gru"),
    "threads beyond any machine": (VALID, ["train.num_threads=100000"], "train.num_threads"),
    "hidden size beyond memory": (
        VALID,
        ["model.hidden_size=100000000"],
        "model.hidden_size: Input should be less than or equal to 4096",
    ),
    "hidden size overflowing": (VALID, [f"model.hidden_size={2**62}"], "model.hidden_size"),
    "a list as a key": (
        VALID + "? [a, b]\n: 1\n",
        [],
        "YAML syntax error at line 8: a key must be a plain value, not a list or mapping",
    ),
    "a mapping as a key": (VALID + "? {a: 1}\n: 1\n", [], "not a list or mapping"),
    "nested too deeply": ("seed: " + "[" * 5000 + "\n", [], "nested too deeply to be a config"),
    "a merge of a scalar": (VALID + "x:\n  <<: 3\n", [], "expected a mapping or list of mappings"),
    "peepholes off the fused lstm": (
        VALID.replace("cell: gru", "cell: lstm"),
        ["model.variant=fused", "model.peepholes=false"],
        "model: peepholes: false applies to the paper variant of a cell with peepholes",
    ),
}


def assert_one_error_line(result: object, expected: str, code: int = 2) -> None:
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_every_config_error_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    text, overrides, expected = ERROR_CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    arguments = ["train", str(path), "--run-dir", str(tmp_path / "run")]
    for override in overrides:
        arguments += ["--set", override]
    result = CliRunner().invoke(app, arguments)
    assert_one_error_line(result, expected)
    if not case.startswith("set ") or case == "set unknown key":  # else it names the --set
        assert str(path) in result.stderr  # the file is named too
    assert not (tmp_path / "run").exists()  # nothing written


def test_yaml_merge_keys_work_and_explicit_keys_override(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        VALID + "train:\n  <<: [{max_epochs: 50}, {patience: 5, batch_size: 2}]\n  patience: 7\n"
    )
    config = load_config(path)
    assert (config.train.max_epochs, config.train.patience, config.train.batch_size) == (50, 7, 2)
    path.write_text(VALID + "train:\n  <<: *nowhere\n")
    with pytest.raises(ConfigError, match="YAML syntax error at line 9: found undefined alias"):
        load_config(path)


def test_a_data_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "base.yaml"
    blocker.write_text("x")
    path = tmp_path / "c.yaml"
    path.write_text(VALID)
    for arguments in (
        ["--set", f"data.data_dir={blocker}"],
        ["--results-dir", str(blocker)],
        ["--run-dir", str(blocker)],
    ):
        result = CliRunner().invoke(app, ["train", str(path), *arguments])
        assert_one_error_line(result, f"{blocker}: is a file, expected a directory")


def test_missing_config_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(tmp_path / "nope.yaml")])
    assert_one_error_line(result, "nope.yaml: config file not found")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["train"], "missing CONFIG"),
        (
            ["train", "configs/smoke.yaml", "--resume", "somewhere"],
            "--resume RUN_DIR takes no CONFIG",
        ),
        (["train", "--resume", "/nonexistent/run"], "not a run directory"),
        (["train", "configs/smoke.yaml", "--run-dir", "a", "--results-dir", "b"], "not both"),
    ],
)
def test_bad_command_lines(arguments: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, arguments)
    assert_one_error_line(result, expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(VALID + "device: cuda\n")
    result = CliRunner().invoke(app, ["train", str(path), "--run-dir", str(tmp_path / "run")])
    assert_one_error_line(result, "device: 'cuda' requested")


@pytest.mark.parametrize(
    ("device", "variant", "batch", "expected"),
    [
        ("auto", "paper", 1, "cpu"),  # compiled CPU loops: a GPU ran them 7x slower (docs/speed.md)
        ("auto", "paper", 63, "cpu"),
        ("auto", "paper", 64, "cuda"),  # big batches: the GPU catches up (2-5x at 128)
        ("auto", "fused", 1, "cuda"),  # cuDNN
        ("cuda", "paper", 1, "cuda"),  # asked for: honoured
        ("cpu", "fused", 128, "cpu"),
    ],
)
def test_auto_device_with_a_gpu_present(
    device: str, variant: str, batch: int, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnbench.train.setup import run_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the decision, not a GPU
    settings = [f"device={device}", f"model.variant={variant}", f"train.batch_size={batch}"]
    config = load_config(REPO / "configs" / "smoke.yaml", settings)
    assert run_device(config).type == expected


def test_a_dataset_not_downloaded_offline_without_mirror_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Online or with a mirror, train fetches it (tests/data/test_auto_fetch.py)."""
    monkeypatch.delenv("RNNBENCH_MIRROR", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(VALID.replace("name: jsb", f"name: jsb\n  data_dir: {tmp_path / 'empty'}"))
    arguments = ["train", str(path), "--run-dir", str(tmp_path / "run"), "--offline"]
    result = CliRunner().invoke(app, arguments)
    assert_one_error_line(result, "there is nowhere to fetch it from", code=1)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("make_run_dir", "expected", "code"),
    [
        (lambda root: root / "missing", "config.yaml: config file not found", 2),
        (lambda root: root, "no checkpoint", 1),
    ],
)
def test_sample_from_something_that_is_no_trained_run(
    tmp_path: Path, make_run_dir: Callable[[Path], Path], expected: str, code: int
) -> None:
    (tmp_path / "config.yaml").write_text(VALID)
    result = CliRunner().invoke(app, ["sample", str(make_run_dir(tmp_path))])
    assert_one_error_line(result, expected, code=code)

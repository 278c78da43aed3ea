"""The run config: pydantic schema for the YAML files in configs/, `--set` overrides, a stable hash.

Unknown keys are rejected at every level (a typo must not silently fall back to a default), and
every problem becomes one `ConfigError` line naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rnnbench.errors import ConfigError

# Upper bounds far beyond any real run, low enough that a typo fails as a config error naming the
# field rather than as a crash (torch segfaults on 100000 threads) or a huge allocation.
MAX_THREADS = 1024
MAX_HIDDEN_SIZE = 4096
AUTO = "auto"  # model.hidden_size: auto


def resolve_dataset(name: str, data_dir: Path | None) -> str:
    """The canonical dataset name (built-in name or alias, or a dataset imported into data_dir)."""
    from rnnbench.data import resolve
    from rnnbench.errors import RnnbenchError

    try:
        return resolve(name, data_dir).name
    except RnnbenchError as exc:
        raise ValueError(str(exc)) from None


class Section(BaseModel):
    # No NaN or inf anywhere: an infinite learning rate or noise is a typo, not an experiment.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DataConfig(Section):
    # Where the verified, decoded datasets live; null = $RNNBENCH_DATA_DIR, else ./data.
    # (Declared before `name`: an imported dataset's name is only known inside its data dir.)
    data_dir: Path | None = None
    # Which dataset to train on: a built-in name or alias (`rnnbench data list`) or an imported one.
    name: str
    # Use only the first N sequences of every split: smoke tests and debugging, never results.
    max_sequences: int | None = Field(default=None, ge=1, strict=True)

    @field_validator("data_dir")
    @classmethod
    def _a_directory(cls, data_dir: Path | None) -> Path | None:
        if data_dir is not None and data_dir.exists() and not data_dir.is_dir():
            raise ValueError(f"{data_dir}: is a file, expected a directory")
        return data_dir

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, name: str, info: ValidationInfo) -> str:
        if _recorded(info):  # resolved when the run started; its data dir may not be here
            return name
        # Canonical: "JSB" and "jsb" are one dataset (and one config hash).
        return resolve_dataset(name, info.data.get("data_dir"))


class ModelConfig(Section):
    # The recurrent cell: a built-in (tanh, gru, lstm; rnnbench/cells.py), an import path
    # `package.module:Class` or an entry-point name of group rnnbench.cells (docs/cells.md).
    cell: str
    # paper = the paper's equations (GRU reset before the matmul, LSTM peepholes, 1 bias per gate);
    # fused = torch's nn.RNN/GRU/LSTM (cuDNN/oneDNN; different GRU, no peepholes, two biases).
    # A plugin cell has one variant, paper: the module it defines.
    variant: Literal["paper", "fused"] = "paper"
    # Hidden units, or auto (the default): the paper's size for the paper's cells (tanh 100,
    # GRU 46, LSTM 36: ~19k recurrent parameters each), for any other cell the size whose
    # recurrent parameter count is nearest rnnbench.cells.PARAMETER_BUDGET. The resolved config
    # (config.yaml of a run, and its hash) holds the number chosen.
    hidden_size: int = Field(gt=0, le=MAX_HIDDEN_SIZE, strict=True)
    # paper = the paper's code: input weights U(-0.1, 0.1), orthogonal recurrent blocks, 0 biases;
    # torch = torch's default U(-1/sqrt(H), 1/sqrt(H)) everywhere (an ablation);
    # paper-forget1 = paper, but the LSTM's forget-gate biases start at 1 (Gers et al. 2000,
    # Jozefowicz et al. 2015), so the cell starts out remembering (an ablation; LSTM only).
    init: Literal["paper", "torch", "paper-forget1"] = "paper"
    # Paper variant of a cell with peepholes (the LSTM): false drops the diagonal peephole terms and
    # keeps everything else (one bias per gate, init, kernel), an ablation that separates the
    # peepholes from the fused variant's other differences. Cells without peepholes ignore it.
    peepholes: bool = True

    @model_validator(mode="before")
    @classmethod
    def _auto_hidden_size(cls, data: Any, info: ValidationInfo) -> Any:
        """hidden_size auto (or absent) -> the number (rnnbench.cells.auto_hidden_size)."""
        if not isinstance(data, dict) or _recorded(info):
            return data
        if data.get("hidden_size", AUTO) != AUTO or not isinstance(data.get("cell"), str):
            return data
        from rnnbench.cells import auto_hidden_size, get_cell
        from rnnbench.errors import RnnbenchError

        try:
            get_cell(data["cell"])
        except RnnbenchError:
            return {**data, "hidden_size": 1}  # the cell's own error is reported alone, below
        try:
            size = auto_hidden_size(data["cell"], MAX_HIDDEN_SIZE)
        except RnnbenchError as exc:
            raise ValueError(str(exc)) from None
        return {**data, "hidden_size": size}

    @field_validator("cell")
    @classmethod
    def _known_cell(cls, cell: str, info: ValidationInfo) -> str:
        if _recorded(info):  # a record may name a cell that is not installed here
            return cell
        from rnnbench.cells import get_cell
        from rnnbench.errors import RnnbenchError

        try:
            get_cell(cell)
        except RnnbenchError as exc:
            raise ValueError(str(exc)) from None
        return cell

    @model_validator(mode="after")
    def _cell_has_the_variant(self, info: ValidationInfo) -> ModelConfig:
        """The fused variant needs a torch module; a plugin cell is built at this size and run on
        a check batch (docs/cells.md)."""
        if _recorded(info):
            return self
        from rnnbench.cells import get_cell
        from rnnbench.errors import RnnbenchError

        spec = get_cell(self.cell)
        if self.variant == "fused" and spec.fused is None:
            raise ValueError(
                f"cell '{self.cell}' has no fused variant (no torch module); use paper"
            )
        if spec.plugin is None:
            return self
        from rnnbench.models.plugins import check_cell

        try:
            check_cell(spec, self.hidden_size)
        except RnnbenchError as exc:
            raise ValueError(str(exc)) from None
        return self

    @model_validator(mode="after")
    def _forget_bias_needs_lstm(self) -> ModelConfig:
        if self.init == "paper-forget1" and self.cell != "lstm":
            raise ValueError(
                f"init 'paper-forget1' applies to the lstm cell only, not '{self.cell}'"
            )
        return self

    @model_validator(mode="after")
    def _peepholes_need_paper_peephole_cell(self, info: ValidationInfo) -> ModelConfig:
        from rnnbench.cells import CELLS, get_cell

        if _recorded(info):  # a record may name a cell not installed here: taken as it is
            spec = CELLS.get(self.cell)
            peephole = spec.peephole if spec is not None else True
        else:
            peephole = get_cell(self.cell).peephole
        if not self.peepholes and (self.variant != "paper" or not peephole):
            raise ValueError(
                "peepholes: false applies to the paper variant of a cell with peepholes (lstm), "
                f"not {self.variant} {self.cell}"
            )
        return self


class OptimConfig(Section):
    # RMSProp step size. The paper sampled 10 per model from exp(U(-12, -6)) and kept the best by
    # validation NLL; sweeps draw it. 0.001, inside that range, is for a single run.
    lr: float = Field(default=1e-3, gt=0)
    # Std of the Gaussian noise added to the recurrent layer's input and recurrent matrices at every
    # update (the paper: 0.075); 0 turns it off. Never applied at evaluation.
    weight_noise: float = Field(default=0.075, ge=0)
    # Gradient norm clipping after backward (the paper: 1); null = no clipping.
    clip_norm: float | None = Field(default=1.0, gt=0)
    # RMSProp's running-average decay of squared gradients (torch's `alpha`); 0.9 as in Hinton's
    # lecture and the Theano code of the period, rather than torch's 0.99.
    rmsprop_decay: float = Field(default=0.9, gt=0, lt=1)
    # RMSProp's denominator epsilon: keeps steps finite for notes that almost never sound.
    rmsprop_eps: float = Field(default=1e-6, gt=0)
    # The update rule. rmsprop = torch's RMSprop, gradient norm clipped to clip_norm (the paper's
    # text). librnn = the paper's published code (jych/librnn, docs/paper-code.md): RMSProp with
    # classical momentum 0.9, the RMS floored at 1e-2 instead of an epsilon, and the *update*
    # (velocity) norm clipped to clip_norm instead of the gradient; rmsprop_eps is unused.
    rule: Literal["rmsprop", "librnn"] = "rmsprop"
    # Learning-rate schedule over train.max_epochs. constant = the paper's text; linear = librnn's
    # LinearDecayOverEpoch: from lr at epoch 1 down to lr/100 at the last epoch.
    lr_schedule: Literal["constant", "linear"] = "constant"


class TrainConfig(Section):
    # What the training loss averages the summed-over-notes NLL over. frame = the batch's real
    # predicted frames (nats per frame, as reported); sequence = the batch's sequences, i.e. the NLL
    # summed over each piece's frames (librnn's cost): long pieces then weigh more, and the
    # gradient's scale grows with piece length, which matters to clipping and to an RMS floor.
    loss_average: Literal["frame", "sequence"] = "frame"
    # Sequences per update, bucketed by length so padding stays small. 1 = the paper's code
    # (jych/librnn: batch_size 1, whole pieces). 8 is a cheaper variant (results/table2.md) that
    # costs about 1/1.4 of the time but stalls the gated cells on the long-piece datasets
    # (MuseData, Piano-midi.de) at the marginal-frequency plateau (results/README.md).
    batch_size: int = Field(default=1, ge=1, strict=True)
    # Hard cap on epochs. Early stopping ends well-tuned runs before it; runs at the low end of
    # the paper's learning-rate range are still improving when they reach it.
    max_epochs: int = Field(default=500, ge=1, strict=True)
    # Stop after this many epochs without a new best validation NLL (weight noise makes the
    # validation curve noisy, so a short patience stops too early); the best weights are kept.
    patience: int = Field(default=20, ge=1, strict=True)
    # Sequences per evaluation batch (no gradients, so large batches are cheap).
    eval_batch_size: int = Field(default=64, ge=1, strict=True)
    # Evaluate the training split every this many epochs (and at the first and the last): a full
    # forward pass over it costs a third of an epoch, and nothing in the protocol reads it (early
    # stopping and selection use validation NLL; the final record always evaluates the best
    # weights on all splits). Only history.csv's nll_train column thins out, so it is not hashed.
    eval_train_every: int = Field(default=1, ge=1, strict=True)
    # Torch CPU threads, at most MAX_THREADS; null = all cores. 1 by default: at these sizes
    # (H <= 100, small batches) every op is far too small to split, and 2 threads on a busy 2-core
    # machine measured 14x slower. Sweep workers run one single-threaded trial per core.
    num_threads: int | None = Field(default=1, ge=1, le=MAX_THREADS, strict=True)


class Config(Section):
    # Seeds the initial weights, the batch order of every epoch and the weight noise: a CPU run is
    # fully determined by its config. At most 2^32 - 1: each epoch's batch order seeds a 64-bit
    # generator with seed * 1,000,003 + epoch.
    seed: int = Field(default=0, ge=0, le=2**32 - 1, strict=True)
    # auto = the CPU for the paper variant and plugin cells below batch 64 (their loops are compiled
    # for the CPU; at batch 1 a GPU runs them 7x slower, docs/speed.md), else CUDA when present.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataConfig
    model: ModelConfig
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)


RECORDED = "recorded"  # validation context flag: a run record's config.yaml (see parse_recorded)


def _recorded(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(RECORDED))


def first_validation_error(exc: ValidationError) -> str:
    """'field: message' for a pydantic error, one line (plus how many more there are)."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "missing required key"
    elif error["type"] == "model_type":
        message = "expected a mapping (a section of settings)"
    more = len(exc.errors()) - 1
    return f"{field}: {message}" + (f" (and {more} more)" if more else "")


def _set_override(raw: dict[str, Any], override: str) -> None:
    """Apply one `a.b=value` override to the raw dict; value parsed as a YAML scalar."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set '{override}': expected KEY=VALUE, e.g. optim.lr=0.001")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"--set '{override}': value is not a YAML scalar") from None
    parts = key.strip().split(".")
    node = raw
    for index, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: index + 1])
            raise ConfigError(f"--set '{override}': '{where}' is not a section")
        node = child
    node[parts[-1]] = value


def parse_config(raw: Any, source: str, overrides: Sequence[str] = ()) -> Config:
    """Validate a raw mapping (from YAML) plus overrides; errors name `source` and the field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    for override in overrides:
        _set_override(raw, override)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {first_validation_error(exc)}") from None


def parse_recorded(raw: Any, source: str) -> Config:
    """Validate a run record's resolved config (config.yaml) against the training schema, less
    what depends on this machine: the dataset name is not resolved in a data dir and the cell
    need not be registered here. Errors are ConfigErrors naming `source` and the field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: invalid config (expected a mapping at the top level)")
    try:
        return Config.model_validate(raw, context={RECORDED: True})
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid config ({first_validation_error(exc)})") from None


def read_yaml(text: str) -> Any:
    """YAML text as plain data, refusing a key given twice in one mapping (yaml.YAMLError)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last silently,
    so `lr: 0.001` further down a file would override an earlier one unseen). Merge keys
    (`<<: *base`) work as in SafeLoader: keys written beside one override the merged ones."""


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:  # a list or mapping as a key: `? [a, b]`
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value, not a list or mapping",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read and validate a YAML config file, then apply `a.b=value` overrides."""
    return parse_config(load_raw(path), str(path), overrides)


def load_raw(path: str | Path) -> Any:
    """A YAML config file as plain data, not yet validated; ConfigError naming the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (invalid UTF-8)") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {describe_yaml_error(exc)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    return raw


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """'YAML syntax error at line N: problem', one line, for any file the suite reads."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"YAML syntax error{where}: {problem}"


def config_to_dict(config: Config) -> dict[str, Any]:
    return config.model_dump(mode="json")


def config_to_yaml(config: Config) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


# Fields that say where or how fast a run executes but not what it computes: left out of the hash so
# the same trial on another machine or with another thread count keeps its id.
UNHASHED = (("data", "data_dir"), ("train", "num_threads"), ("train", "eval_train_every"))
# Fields added after run records were published, with the value every earlier run implicitly had.
# At that value they are left out of the hash (drop_added_later_defaults), so earlier run ids and
# resumable sweeps keep matching; compare reads a record without them as holding that value
# (fill_added_later_defaults), so old and new records pool and labels name real values.
ADDED_LATER: dict[tuple[str, str], Any] = {
    ("model", "peepholes"): True,
    ("optim", "rule"): "rmsprop",
    ("optim", "lr_schedule"): "constant",
    ("train", "loss_average"): "frame",
}


def fill_added_later_defaults(config: dict[str, Any]) -> None:
    """Give a config mapping written before an ADDED_LATER field existed that field's default (in
    place), so that it reads as the setting it ran with: compare labels and pools by it."""
    for (section, field), default in ADDED_LATER.items():
        node = config.get(section)
        if isinstance(node, dict):
            node.setdefault(field, default)


def schema_defaults() -> dict[str, Any]:
    """`section.field` (or `field` at the top level) -> default, for every field that has one."""
    defaults: dict[str, Any] = {}
    for name, field in Config.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, Section):
            for sub, subfield in section.model_fields.items():
                if not subfield.is_required():
                    defaults[f"{name}.{sub}"] = subfield.get_default(call_default_factory=True)
        elif not field.is_required():
            defaults[name] = field.get_default(call_default_factory=True)
    return defaults


def drop_added_later_defaults(resolved: dict[str, Any]) -> None:
    """Remove ADDED_LATER fields that hold their default from a config mapping (in place): a
    config written before the field existed and one written after are then the same."""
    for (section, field), default in ADDED_LATER.items():
        node = resolved.get(section)
        if isinstance(node, dict) and node.get(field, default) == default:
            node.pop(field, None)


def config_hash(config: Config) -> str:
    """Stable short hash: sha256 of the canonical JSON (sorted keys) of the resolved config."""
    resolved = config_to_dict(config)
    for section, field in UNHASHED:
        resolved[section].pop(field, None)
    drop_added_later_defaults(resolved)
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]

"""Cells from outside the package (docs/cells.md): loading, the check batch, the recurrent layer.

A plugin cell is an `nn.Module` class built as `cls(input_size, hidden_size)` whose
`forward(x (B, T, I)) -> hidden (B, T, H)` runs the recurrence from h_0 = 0. rnnbench wraps it in
`PluginRecurrent`, which adds weight noise to the parameters the class names in
`noisy_parameters` (default: every parameter with two or more dimensions, i.e. its matrices).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call

from rnnbench.cells import CellSpec, Plugin, is_import_path
from rnnbench.errors import PluginError
from rnnbench.models.init import uniform_

CHECK_BATCH = (3, 6)  # (B, T) of the check batch every plugin forward must pass
CHECK_SPLIT = 3  # the causality check flips the inputs from this step on
NOISY_ATTRIBUTE = "noisy_parameters"

_LOADED: dict[str, CellSpec] = {}
_CHECKED: set[tuple[str, int, int]] = set()


def load_plugin(name: str, entry_point: metadata.EntryPoint | None = None) -> CellSpec:
    """The cell a config names by import path (`pkg.module:Class`) or entry point (cached)."""
    if name not in _LOADED:
        import_path = name if entry_point is None else entry_point.value
        factory = _import(name, import_path)
        _check_class(name, factory)
        plugin = Plugin(
            import_path=import_path,
            factory=factory,
            entry_point=entry_point.name if entry_point is not None else None,
            **_provenance(import_path, factory, entry_point),
        )
        _LOADED[name] = CellSpec(name, plugin=plugin)
    return _LOADED[name]


def _import(name: str, import_path: str) -> object:
    module_name, _, attribute = import_path.partition(":")
    if not module_name or not attribute or not is_import_path(import_path):
        raise PluginError(
            f"cell '{name}': '{import_path}' is not an import path (package.module:Class)"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing the user's module: one line, exit 2
        raise PluginError(
            f"cell '{name}': cannot import module '{module_name}' ({_one_line(exc)})"
        ) from None
    target: object = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PluginError(
                f"cell '{name}': module '{module_name}' has no attribute '{attribute}'"
            )
        target = getattr(target, part)
    return target


def _check_class(name: str, factory: object) -> None:
    if not (inspect.isclass(factory) and issubclass(factory, nn.Module)):
        kind = (
            type(factory).__name__ if not inspect.isclass(factory) else f"class {factory.__name__}"
        )
        raise PluginError(
            f"cell '{name}' is not a cell: expected a torch.nn.Module subclass built as "
            f"Class(input_size, hidden_size), got {kind}"
        )


def _provenance(
    import_path: str, factory: object, entry_point: metadata.EntryPoint | None
) -> dict[str, str | None]:
    """Distribution, version and source digest: enough to trace a result to the code behind it."""
    source = inspect.getsourcefile(factory)  # type: ignore[arg-type]
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else None
    distribution = entry_point.dist if entry_point is not None else None
    if distribution is None:
        distribution = _distribution_of(import_path.partition(":")[0].split(".")[0])
    return {
        "distribution": distribution.name if distribution is not None else None,
        "version": distribution.version if distribution is not None else None,
        "source_file": str(Path(source).resolve()) if source else None,
        "source_sha256": digest,
    }


def _distribution_of(top_level: str) -> metadata.Distribution | None:
    """The installed distribution that provides a top-level package: first by the distributions'
    top_level.txt (quick), then by every distribution's file list (a second or so), else None (a
    module on PYTHONPATH, not installed)."""
    for distribution in metadata.distributions():
        names = distribution.read_text("top_level.txt")
        if names is not None and top_level in names.split():
            return distribution
    providers = _packages_distributions().get(top_level, [])
    if not providers:
        return None
    try:
        return metadata.distribution(providers[0])
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def _packages_distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def build_cell(spec: CellSpec, input_size: int, hidden_size: int) -> nn.Module:
    """`Class(input_size, hidden_size)`; any error it raises becomes one PluginError line."""
    assert spec.plugin is not None
    try:
        module = spec.plugin.factory(input_size, hidden_size)
    except Exception as exc:
        raise PluginError(
            f"cell '{spec.name}': {spec.plugin.import_path}({input_size}, {hidden_size}) failed "
            f"({_one_line(exc)})"
        ) from None
    if not isinstance(module, nn.Module):
        raise PluginError(f"cell '{spec.name}': the class built a {type(module).__name__}")
    return module


def noisy_names(spec: CellSpec, module: nn.Module) -> tuple[str, ...]:
    """The parameters weight noise perturbs: the class's `noisy_parameters`, else its matrices."""
    parameters = dict(module.named_parameters())
    declared = getattr(module, NOISY_ATTRIBUTE, None)
    if declared is None:
        return tuple(name for name, value in parameters.items() if value.dim() >= 2)
    names = (declared,) if isinstance(declared, str) else tuple(declared)
    unknown = [name for name in names if name not in parameters]
    if unknown:
        raise PluginError(
            f"cell '{spec.name}': {NOISY_ATTRIBUTE} names {', '.join(map(repr, unknown))}, not "
            f"parameters of the module (it has: {', '.join(parameters) or 'none'})"
        )
    return names


def check_cell(spec: CellSpec, hidden_size: int, input_size: int = 88) -> None:
    """Build the cell and run it on a check batch before any training: the output must be a finite
    (B, T, H) tensor, causal (step t sees inputs up to t only: batches are right-padded) and
    per sequence (no mixing across the batch). Raises one PluginError line. Cached per size."""
    key = (spec.name, input_size, hidden_size)
    if key in _CHECKED:
        return
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        module = build_cell(spec, input_size, hidden_size).eval()
        if not any(True for _ in module.parameters()):
            raise PluginError(f"cell '{spec.name}': the module has no parameters to train")
        noisy_names(spec, module)
        batch, steps = CHECK_BATCH
        inputs = (torch.rand(batch, steps, input_size) < 0.1).float()  # (B, T, I) piano-roll-like
        output = _forward(spec, module, inputs)
        expected = (batch, steps, hidden_size)
        if tuple(output.shape) != expected:
            raise PluginError(
                f"cell '{spec.name}': forward returned shape {tuple(output.shape)} on a "
                f"{tuple(inputs.shape)} batch, expected {expected} = (B, T, H)"
            )
        if not torch.isfinite(output).all():
            raise PluginError(f"cell '{spec.name}': forward returned NaN or inf on the check batch")
        _check_causal(spec, module, inputs, output)
    _CHECKED.add(key)


def _forward(spec: CellSpec, module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    try:
        output = module(inputs)
    except Exception as exc:
        raise PluginError(
            f"cell '{spec.name}': forward failed on a {tuple(inputs.shape)} (B, T, I) batch "
            f"({_one_line(exc)})"
        ) from None
    if not isinstance(output, torch.Tensor):
        raise PluginError(
            f"cell '{spec.name}': forward returned {type(output).__name__}, expected a tensor "
            "(B, T, H)"
        )
    return output


def _check_causal(
    spec: CellSpec, module: nn.Module, inputs: torch.Tensor, output: torch.Tensor
) -> None:
    later = inputs.clone()
    later[:, CHECK_SPLIT:] = 1 - later[:, CHECK_SPLIT:]
    if not torch.allclose(_forward(spec, module, later)[:, :CHECK_SPLIT], output[:, :CHECK_SPLIT]):
        raise PluginError(
            f"cell '{spec.name}': the output at step t depends on inputs after t; the recurrence "
            "must be causal (batches are right-padded)"
        )
    other = inputs.clone()
    other[0] = 1 - other[0]
    if not torch.allclose(_forward(spec, module, other)[1:], output[1:]):
        raise PluginError(
            f"cell '{spec.name}': one sequence's output depends on another sequence of the batch; "
            "forward takes (B, T, I) batch first"
        )


def parameter_counter(spec: CellSpec, input_size: int = 88) -> Callable[[int], int]:
    """hidden_size -> parameters of the cell built at that size."""

    def count(hidden_size: int) -> int:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            module = build_cell(spec, input_size, hidden_size)
        return sum(parameter.numel() for parameter in module.parameters())

    return count


class PluginRecurrent(nn.Module):
    """x (B, T, I) -> hidden (B, T, H) through a plugin cell, with the protocol's weight noise."""

    def __init__(self, spec: CellSpec, input_size: int, hidden_size: int, init: str) -> None:
        super().__init__()
        self.cell = build_cell(spec, input_size, hidden_size)
        self.noisy = noisy_names(spec, self.cell)
        if init == "torch":  # as for the built-in cells; "paper": the cell's own initialisation
            with torch.no_grad():
                for parameter in self.cell.parameters():
                    uniform_(parameter, 1 / math.sqrt(hidden_size))

    def forward(self, x: torch.Tensor, weight_noise: float = 0.0) -> torch.Tensor:
        if self.training and weight_noise > 0 and self.noisy:
            # Perturbed copies replace the named parameters for this call only; their gradients
            # flow back to the clean parameters through the addition.
            parameters = dict(self.cell.named_parameters())
            noisy = {
                name: parameters[name] + weight_noise * torch.randn_like(parameters[name])
                for name in self.noisy
            }
            hidden: torch.Tensor = functional_call(self.cell, noisy, (x,), strict=False)
        else:
            hidden = self.cell(x)
        return hidden  # (B, T, H)

"""Safe decoders for the published formats: the original pickles and the .mat files.

Pickles go through a restricted Unpickler that resolves only the numpy names the originals use;
any other global (os.system, builtins.eval, ...) is refused before anything is called.
"""

from __future__ import annotations

import importlib
import operator
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rnnbench.data.dataset import HIGHEST_NOTE, LOWEST_NOTE, NUM_NOTES, PianoRoll
from rnnbench.data.registry import SPLITS
from rnnbench.errors import DataError

Splits = dict[str, list[PianoRoll]]

# (module, name) pairs the original pickles may refer to, in both numpy 1 and numpy 2 spellings.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class UnsafePickleError(DataError):
    """A pickle that refers to a global outside the allow-list."""


def _multiarray() -> Any:
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:  # numpy 1.x
        return importlib.import_module("numpy.core.multiarray")


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only ALLOWED_GLOBALS, from numpy itself; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refused global '{module}.{name}' (not a numpy array/scalar name)"
            )
        if module == "numpy":
            return getattr(np, name)
        return getattr(_multiarray(), name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused persistent id (not used by the original datasets)")


def decode_pickle(path: Path) -> Splits:
    """The original Boulanger-Lewandowski pickle: {split: [sequence: [step: (midi notes...)]]}."""
    try:
        with path.open("rb") as handle:
            raw = RestrictedUnpickler(handle, encoding="latin1").load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path.name}: unsafe pickle: {exc}") from None
    except Exception as exc:  # any malformed pickle: truncated, wrong protocol, garbage
        raise DataError(
            f"{path.name}: not a readable dataset pickle ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(raw, dict):
        raise DataError(f"{path.name}: expected a dict of splits, found {type(raw).__name__}")
    return {split: _pickle_split(path, raw, split) for split in SPLITS}


def _pickle_split(path: Path, raw: dict[Any, Any], split: str) -> list[PianoRoll]:
    if split not in raw:
        raise DataError(f"{path.name}: missing split '{split}'")
    sequences = raw[split]
    if not isinstance(sequences, list | tuple) or not sequences:
        raise DataError(f"{path.name}: split '{split}' is empty or not a list")
    return [_steps_to_roll(path, split, index, steps) for index, steps in enumerate(sequences)]


def _steps_to_roll(path: Path, split: str, index: int, steps: Any) -> PianoRoll:
    where = f"{path.name}: {split}[{index}]"
    if not isinstance(steps, list | tuple) or not steps:
        raise DataError(f"{where}: a sequence must be a non-empty list of time steps")
    try:
        counts = [len(step) for step in steps]
        flat = [operator.index(note) for step in steps for note in step]  # ints only, no str/float
    except TypeError:
        raise DataError(
            f"{where}: every time step must be a list of integer note numbers"
        ) from None
    pitches = np.array(flat, dtype=np.int64)  # (notes,)
    _check_note_range(where, pitches)
    roll = np.zeros((len(steps), NUM_NOTES), dtype=np.uint8)  # (T, 88)
    roll[np.repeat(np.arange(len(steps)), counts), pitches - LOWEST_NOTE] = 1
    return roll


def _check_note_range(where: str, pitches: Any) -> None:
    if pitches.size and (pitches.min() < LOWEST_NOTE or pitches.max() > HIGHEST_NOTE):
        bad = pitches[(pitches < LOWEST_NOTE) | (pitches > HIGHEST_NOTE)][0]
        raise DataError(f"{where}: note {bad} outside the 88 keys {LOWEST_NOTE}..{HIGHEST_NOTE}")


MAT_VARIABLES = {"train": "traindata", "valid": "validdata", "test": "testdata"}


def decode_mat(path: Path) -> Splits:
    """A MATLAB 5 file with traindata/validdata/testdata: 1xN cells of (T, 88) 0/1 matrices."""
    import scipy.io

    try:
        contents = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises many types on malformed input
        raise DataError(
            f"{path.name}: not a readable .mat file ({type(exc).__name__}: {exc})"
        ) from None
    return {split: _mat_split(path, contents, split) for split in SPLITS}


def _mat_split(path: Path, contents: dict[str, Any], split: str) -> list[PianoRoll]:
    variable = MAT_VARIABLES[split]
    if variable not in contents:
        raise DataError(f"{path.name}: missing variable '{variable}'")
    cells = np.asarray(contents[variable])
    if cells.dtype != object or cells.size == 0:
        raise DataError(f"{path.name}: '{variable}' must be a non-empty cell array")
    return [_mat_roll(path, variable, index, cell) for index, cell in enumerate(cells.reshape(-1))]


def _mat_roll(path: Path, variable: str, index: int, cell: Any) -> PianoRoll:
    where = f"{path.name}: {variable}{{{index + 1}}}"
    matrix = np.asarray(cell)
    if matrix.ndim != 2 or matrix.shape[1] != NUM_NOTES or matrix.shape[0] == 0:
        raise DataError(f"{where}: expected a (T, {NUM_NOTES}) matrix, found shape {matrix.shape}")
    if not np.isin(matrix, (0, 1)).all():
        raise DataError(f"{where}: values must be 0 or 1")
    return np.ascontiguousarray(matrix, dtype=np.uint8)  # (T, 88)


DECODERS: dict[str, Callable[[Path], Splits]] = {"mat": decode_mat, "pickle": decode_pickle}

"""The built-in dataset registry (registry.yaml, shipped in the package) and name resolution."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from rnnbench.errors import DataError

SPLITS = ("train", "valid", "test")
REGISTRY_FILE = "registry.yaml"


class SplitSize(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sequences: int
    frames: int


class Source(BaseModel):
    """One place a dataset can be downloaded from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    format: Literal["mat", "pickle"]
    sha256: str | None = None

    @property
    def file_name(self) -> str:
        """The file name a mirror holds this source under (the URL's last segment, unquoted)."""
        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])


class DatasetSpec(BaseModel):
    """One registry entry: what the dataset is, where it comes from and what it must decode to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    aliases: tuple[str, ...] = ()
    steps_per_beat: int
    digest: str
    splits: dict[str, SplitSize]
    sources: tuple[Source, ...]


def _normalize(name: str) -> str:
    return "".join(char for char in name.lower() if char.isalnum())


@functools.cache
def builtin_specs() -> dict[str, DatasetSpec]:
    """All built-in datasets by canonical name, in registry order."""
    text = resources.files("rnnbench.data").joinpath(REGISTRY_FILE).read_text()
    raw: Any = yaml.safe_load(text)
    try:
        return {
            name: DatasetSpec.model_validate({"name": name, **entry})
            for name, entry in raw["datasets"].items()
        }
    except (KeyError, TypeError, ValidationError) as exc:
        raise DataError(f"{REGISTRY_FILE}: invalid dataset registry ({exc})") from exc


@functools.cache
def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, spec in builtin_specs().items():
        for alias in (name, spec.title, *spec.aliases):
            table[_normalize(alias)] = name
    return table


def builtin_name(name: str) -> str | None:
    """The canonical built-in name for a name or alias (case- and punctuation-insensitive)."""
    return _alias_table().get(_normalize(name))


def builtin_spec(name: str) -> DatasetSpec | None:
    canonical = builtin_name(name)
    return builtin_specs()[canonical] if canonical else None

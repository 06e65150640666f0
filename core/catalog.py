"""The model catalog: what each model can do and what it costs, from ``data/models.json``.

Lookups are pure functions of a :class:`Catalog` value; :func:`default_catalog` decodes the shipped
file once. Users extend or override it with :func:`Catalog.merged`.

>>> info = default_catalog().lookup("openai", "gpt-4o-mini-2024-07-18")
>>> info.id, info.context_window
('gpt-4o-mini', 128000)
>>> default_catalog().lookup("openai", "no-such-model") is None
True
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

import msgspec

from .schema import ModelInfo

__all__ = ["Catalog", "default_catalog", "parse_catalog"]


class _CatalogFile(msgspec.Struct, forbid_unknown_fields=True):
    models: list[ModelInfo]
    prices_as_of: str | None = None


class Catalog:
    """An immutable index of :class:`ModelInfo` by (provider, id or alias)."""

    __slots__ = ("_index", "models")

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self.models: tuple[ModelInfo, ...] = tuple(models)
        index: dict[tuple[str, str], ModelInfo] = {}
        for m in self.models:
            index[(m.provider, m.id)] = m
            for a in m.aliases:
                index.setdefault((m.provider, a), m)
        self._index = index

    def lookup(self, provider: str, model: str) -> ModelInfo | None:
        return self._index.get((provider, model))

    def merged(self, other: Iterable[ModelInfo]) -> Catalog:
        """A catalog where entries of ``other`` replace same-(provider, id) entries of this one."""
        extra = tuple(other)
        replaced = {(m.provider, m.id) for m in extra}
        return Catalog([m for m in self.models if (m.provider, m.id) not in replaced] + list(extra))

    def for_provider(self, provider: str) -> tuple[ModelInfo, ...]:
        return tuple(m for m in self.models if m.provider == provider)


def parse_catalog(data: bytes) -> Catalog:
    """Decode a catalog file (raises ``msgspec.ValidationError`` on a bad file: it is our own input)."""
    f = msgspec.json.decode(data, type=_CatalogFile)
    models = [m if m.prices_as_of or not f.prices_as_of else msgspec.structs.replace(m, prices_as_of=f.prices_as_of) for m in f.models]
    return Catalog(models)


@functools.cache
def default_catalog() -> Catalog:
    return parse_catalog(resources.files(__package__).joinpath("data", "models.json").read_bytes())

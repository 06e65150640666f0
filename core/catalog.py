"""The model catalog: what each model can do and what it costs, from ``data/models.json``.

Lookups are pure functions of a :class:`Catalog` value; :func:`default_catalog` decodes the shipped
file once. Users extend or override it with :meth:`Catalog.merged` (and
:func:`interlingua.effects.catalog.load_catalog` to read their own file). The shipped prices were
transcribed by hand from the providers' public pricing pages on the file's ``prices_as_of`` date;
see the ``_about`` note at the top of the file. An unknown model is not an error: it has no
:class:`ModelInfo`, so its cost is unknown (``None``), never zero.

>>> info = default_catalog().lookup("openai", "gpt-4o-mini-2024-07-18")
>>> info.id, info.context_window
('gpt-4o-mini', 128000)
>>> default_catalog().resolve("anthropic:claude-sonnet-4-5-20250929").id     # a dated snapshot
'claude-sonnet-4-5'
>>> default_catalog().resolve("gpt-4.1-2026-01-01").id                        # an unlisted snapshot
'gpt-4.1'
>>> default_catalog().lookup("openai", "no-such-model") is None
True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import msgspec
from returns.result import Success

from .models import PROVIDER_ALIASES, parse_model
from .schema import ModelInfo

__all__ = ["Catalog", "default_catalog", "parse_catalog"]


class _CatalogFile(msgspec.Struct, forbid_unknown_fields=True):
    models: list[ModelInfo]
    prices_as_of: str | None = None
    about: list[str] = msgspec.field(default_factory=list, name="_about")


# A dated snapshot not listed as an alias resolves to its family: OpenAI "-2024-08-06", Anthropic
# "-20250929". Tried only after an exact id/alias match fails.
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


# Providers that serve another provider's models through a different API, priced as that one.
_PRICED_AS = {"openai_responses": "openai"}


class Catalog:
    """An immutable index of :class:`ModelInfo` by (provider, id or alias)."""

    __slots__ = ("_index", "models")

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self.models: tuple[ModelInfo, ...] = tuple(models)
        index: dict[tuple[str, str], ModelInfo] = {}
        for m in self.models:
            index[(m.provider, m.id)] = m
        for m in self.models:
            for a in m.aliases:
                index.setdefault((m.provider, a), m)
        self._index = index

    def __len__(self) -> int:
        return len(self.models)

    def lookup(self, provider: str, model: str) -> ModelInfo | None:
        """The entry for ``model`` (id, alias, or dated snapshot of a listed family) at ``provider``."""
        provider = PROVIDER_ALIASES.get(provider, provider)
        provider = _PRICED_AS.get(provider, provider)  # hook: responses
        found = self._index.get((provider, model))
        if found is None:
            family = _SNAPSHOT_SUFFIX.sub("", model)
            if family != model:
                found = self._index.get((provider, family))
        return found

    def resolve(self, model: str) -> ModelInfo | None:
        """Look up a full model string (``provider:model`` or a bare name we recognise)."""
        match parse_model(model):
            case Success(ref):
                return self.lookup(ref.provider, ref.model)
            case _:
                return None

    def merged(self, other: Iterable[ModelInfo]) -> Catalog:
        """A catalog where entries of ``other`` replace same-(provider, id) entries of this one.

        >>> from decimal import Decimal
        >>> extra = ModelInfo(id="my-finetune", provider="openai", input_price=Decimal("3"), output_price=Decimal("12"))
        >>> default_catalog().merged([extra]).lookup("openai", "my-finetune").output_price
        Decimal('12')
        """
        extra = tuple(other)
        replaced = {(m.provider, m.id) for m in extra}
        return Catalog([m for m in self.models if (m.provider, m.id) not in replaced] + list(extra))

    def for_provider(self, provider: str | None = None) -> tuple[ModelInfo, ...]:
        """Every entry of ``provider`` (all entries for ``None``)."""
        if provider is None:
            return self.models
        provider = PROVIDER_ALIASES.get(provider, provider)
        provider = _PRICED_AS.get(provider, provider)  # hook: responses
        return tuple(m for m in self.models if m.provider == provider)


def parse_catalog(data: bytes) -> Catalog:
    """Decode a catalog file (raises ``msgspec.ValidationError``/``DecodeError`` on a bad file).

    Prices are decimal strings (``"2.50"``), decoded to :class:`~decimal.Decimal` exactly.
    """
    f = msgspec.json.decode(data, type=_CatalogFile)
    models = [m if m.prices_as_of or not f.prices_as_of else msgspec.structs.replace(m, prices_as_of=f.prices_as_of) for m in f.models]
    return Catalog(models)


@functools.cache
def default_catalog() -> Catalog:
    from importlib import resources  # here, not at import: it pulls in tempfile, shutil, bz2, lzma

    return parse_catalog(resources.files(__package__).joinpath("data", "models.json").read_bytes())

"""Reading a user's catalog file (the pure decoding is :func:`interlingua.core.catalog.parse_catalog`).

>>> load_catalog("/no/such/file.json").failure().kind.value
'invalid_request'
"""

from __future__ import annotations

import os

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import ErrorKind, LlmError
from interlingua.core.catalog import Catalog, default_catalog, parse_catalog

__all__ = ["load_catalog"]


def load_catalog(path: str | os.PathLike[str], *, base: Catalog | None = None) -> Result[Catalog, LlmError]:
    """The shipped catalog (or ``base``) with the models of the JSON file at ``path`` added or replacing
    same-(provider, id) entries. The file has the shape of ``core/data/models.json``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        extra = parse_catalog(data)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as e:
        return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"cannot load model catalog {os.fspath(path)!r}: {e}"))
    return Success((base if base is not None else default_catalog()).merged(extra.models))

"""A small structural checker for request bodies, so a fake refuses a wrong type where the real
service does (with its own 400) instead of crashing on it.

A *shape* is one of: ``str``, ``int``, ``float`` (any JSON number), ``bool``, :data:`ANY`; a
one-element list ``[shape]`` (a JSON array of that shape); a dict ``{"name": shape}`` (a JSON
object; a name starting with ``!`` is required); :class:`MapOf` (an object with any keys);
:class:`Ref` (a shape defined later, for recursive types such as Gemini's ``Schema``).
Providers render the :class:`Problem` in their own words (Google: "Unknown name … Cannot find
field"; AWS: ``SerializationException``; …).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["ANY", "MapOf", "Problem", "Ref", "check", "proto_number", "snake"]


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Final = _Any()


@dataclass(frozen=True)
class MapOf:
    value: Any


@dataclass(frozen=True)
class Ref:
    target: Callable[[], Any]


@dataclass(frozen=True)
class Problem:
    """What is wrong: ``kind`` is ``"unknown"`` (a field the type lacks), ``"missing"`` (a required
    field is absent) or ``"type"`` (a value of the wrong JSON type); ``path`` leads to the object
    holding the field (``unknown``/``missing``) or to the value (``type``)."""

    kind: str
    path: tuple[str | int, ...]
    name: str = ""
    expected: Any = None
    value: Any = None


def snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PROTO_FLOAT_WORDS = frozenset({"NaN", "Infinity", "-Infinity"})
_INT32 = range(-(2**31), 2**31)


def proto_number(value: Any, integral: bool) -> float | int | None:
    """``value`` as proto3 JSON reads a number field, or ``None`` when it refuses it: a JSON number or a
    string holding one ("Either numbers or strings are accepted", exponents too); an integer field
    (``integral``: int32) takes an integral value within int32 only, ``2.0`` and ``"1e2"`` included;
    a float field also takes ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not integral and value in _PROTO_FLOAT_WORDS:
            return float(value.replace("Infinity", "inf"))
        if _JSON_NUMBER.fullmatch(value) is None:
            return None
        value = int(value) if value.lstrip("-").isdigit() else float(value)
    if not integral:
        return value if isinstance(value, int | float) else None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    return value if isinstance(value, int) and value in _INT32 else None


def check(value: Any, shape: Any, *, strict: bool = True, aliases: bool = False, proto: bool = False,
          path: tuple[str | int, ...] = ()) -> Problem | None:
    """The first problem of ``value`` against ``shape`` (depth first, in document order), or ``None``.

    ``strict``: unknown object fields are problems. ``aliases``: a field may be spelled in
    snake_case for a camelCase name (proto3 JSON parsers accept both). ``proto``: numbers are read
    as proto3 JSON reads them (:func:`proto_number`: numeric strings, ``int`` is int32).
    """
    if isinstance(shape, Ref):
        shape = shape.target()
    if shape is ANY:
        return None
    if shape is float or shape is int:
        if proto:
            ok = proto_number(value, shape is int) is not None
        elif shape is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
        return None if ok else Problem("type", path, expected=shape, value=value)
    if shape in (str, bool):
        return None if isinstance(value, shape) else Problem("type", path, expected=shape, value=value)
    if isinstance(shape, list):
        if not isinstance(value, list):
            return Problem("type", path, expected=list, value=value)
        for i, item in enumerate(value):
            p = check(item, shape[0], strict=strict, aliases=aliases, proto=proto, path=(*path, i))
            if p is not None:
                return p
        return None
    if isinstance(shape, MapOf):
        if not isinstance(value, dict):
            return Problem("type", path, expected=dict, value=value)
        for k, v in value.items():
            p = check(v, shape.value, strict=strict, aliases=aliases, proto=proto, path=(*path, k))
            if p is not None:
                return p
        return None
    assert isinstance(shape, dict), shape
    if not isinstance(value, dict):
        return Problem("type", path, expected=dict, value=value)
    fields = {k.lstrip("!"): v for k, v in shape.items()}
    for k, v in value.items():
        name = _camel(k) if aliases and k not in fields else k
        if name not in fields:
            if strict:
                return Problem("unknown", path, name=k)
            continue
        if v is None:
            continue  # JSON null is "unset" for an optional field in every API faked here
        p = check(v, fields[name], strict=strict, aliases=aliases, proto=proto, path=(*path, name))
        if p is not None:
            return p
    for k in shape:
        if k.startswith("!"):
            name = k[1:]
            present = value.get(name) if name in value else value.get(snake(name)) if aliases else None
            if present is None:
                return Problem("missing", path, name=name)
    return None

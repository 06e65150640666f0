"""Load a provider's vendored response schemas (tests/data/specs/) as strict jsonschema validators.

Two adjustments, both mechanical and the same for every provider:

* OpenAI's document is OpenAPI 3.1 but still writes some optional values the 3.0 way,
  ``nullable: true`` beside ``type``/``$ref``/``enum`` ("A true value adds "null" to the allowed type
  specified by the type keyword", OpenAPI 3.0.3 §4.7.25). JSON Schema 2020-12 ignores ``nullable``, so
  it is rewritten into the 2020-12 spelling (``type: [T, "null"]``, ``anyOf: [{$ref}, {type: null}]``).
* Every object schema that lists ``properties`` and says nothing about others gets
  ``additionalProperties: false``: the spec lists what the service sends, so a field the fake invents
  (or misspells) is a finding, not noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SPECS = Path(__file__).parent / "data" / "specs"


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k not in ("nullable", "properties")}
    if isinstance(node.get("properties"), dict):  # a map of names, not a schema: every key is a field
        out["properties"] = {name: _strict(sub) for name, sub in node["properties"].items()}
    if node.get("nullable") is True:
        if "$ref" in out or "anyOf" in out or "oneOf" in out or "type" not in out:
            inner = {k: out.pop(k) for k in ("$ref", "anyOf", "oneOf") if k in out}
            out["anyOf"] = [inner, {"type": "null"}]
        else:
            t = out["type"]
            out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _widen(schemas: dict[str, Any], where: tuple[str, ...], fields: dict[str, Any]) -> None:
    node = schemas
    for key in where:
        node = node[key]
    node["properties"] = {**node["properties"], **fields}


def validators(filename: str, *, server_fields: dict[tuple[str, ...], dict[str, Any]] | None = None
               ) -> dict[str, Draft202012Validator]:
    """``{schema name: validator}`` for every schema in ``tests/data/specs/<filename>``.

    ``server_fields`` adds properties (``{(schema, key, …): {name: schema}}``, the path reaching an object
    schema) that the service's own wire types send but its published document leaves out; each caller
    cites where they come from.
    """
    doc = json.loads((SPECS / filename).read_text(encoding="utf-8"))
    schemas = doc["components"]["schemas"]
    for where, fields in (server_fields or {}).items():
        _widen(schemas, where, fields)
    components = {"schemas": {k: _strict(v) for k, v in schemas.items()}}
    return {
        name: Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": components},
                                   format_checker=FormatChecker())
        for name in components["schemas"]
    }


def problems(validator: Draft202012Validator, body: Any) -> list[str]:
    """Every violation, as ``path: message`` (empty when the body matches)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))]

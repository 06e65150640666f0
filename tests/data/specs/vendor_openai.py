"""Regenerate openai-chat.schemas.json from OpenAI's published OpenAPI document (not run by the tests).

Usage: ``python tests/data/specs/vendor_openai.py path/to/openapi.yaml COMMIT`` with a checkout of
github.com/openai/openai-openapi. It keeps the named response schemas and everything they ``$ref``,
verbatim, and records where they came from; update PROVENANCE.md with the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOTS = (
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "ListModelsResponse",
    "Model",
    "DeleteModelResponse",
    "CreateEmbeddingResponse",
    "ErrorResponse",
)


def closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    kept: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    name = value.rsplit("/", 1)[-1]
                    if name not in kept:
                        kept[name] = schemas[name]
                        walk(schemas[name])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for root in roots:
        kept[root] = schemas[root]
        walk(schemas[root])
    return dict(sorted(kept.items()))


def main(spec_path: str, commit: str) -> None:
    doc = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8"))
    out = {
        "source": {"repo": "github.com/openai/openai-openapi", "path": "openapi.yaml", "commit": commit,
                   "openapi": doc["openapi"], "info.version": doc["info"]["version"]},
        "components": {"schemas": closure(doc["components"]["schemas"], ROOTS)},
    }
    target = Path(__file__).with_name("openai-chat.schemas.json")
    target.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

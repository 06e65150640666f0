"""Regenerate a vendored schema file from a provider's published OpenAPI document (not run by the tests).

Usage: ``python tests/data/specs/vendor.py KIND path/to/openapi.yaml COMMIT`` with KIND ``openai`` (a
checkout of github.com/openai/openai-openapi) or ``ollama`` (github.com/ollama/ollama, docs/openapi.yaml).
It keeps the named response schemas and everything they ``$ref``, verbatim, and records where they came
from; update PROVENANCE.md with the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

# kind -> (repository, path in it, output file, the response schemas kept)
SOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "openai": ("github.com/openai/openai-openapi", "openapi.yaml", "openai-chat.schemas.json", (
        "CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ListModelsResponse", "Model",
        "DeleteModelResponse", "CreateEmbeddingResponse", "ErrorResponse")),
    "ollama": ("github.com/ollama/ollama", "docs/openapi.yaml", "ollama.schemas.json", (
        "GenerateResponse", "GenerateStreamEvent", "ChatResponse", "ChatStreamEvent", "EmbedResponse",
        "ListResponse", "PsResponse", "ShowResponse", "VersionResponse", "ErrorResponse")),
}


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


def main(kind: str, spec_path: str, commit: str) -> None:
    repo, path, filename, roots = SOURCES[kind]
    doc = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8"))
    out = {
        "source": {"repo": repo, "path": path, "commit": commit,
                   "openapi": doc["openapi"], "info.version": doc["info"]["version"]},
        "components": {"schemas": closure(doc["components"]["schemas"], roots)},
    }
    target = Path(__file__).with_name(filename)
    target.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

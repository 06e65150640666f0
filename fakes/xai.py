"""A fake of xAI's Chat Completions API (Grok), written from https://docs.x.ai/docs/api-reference.

Paths: ``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /v1/models/{model}`` on the
xAI fake's own origin (any well-formed ``grok-*`` id is answered). Every error, validation and
context-length ones included, uses xAI's flat shape. Auth: ``Authorization: Bearer <key>``; a missing or wrong key gets xAI's **400** body,
``{"code": "Client specified an invalid argument", "error": "Incorrect API key provided: …"}``.

Reasoning, as xAI documents it:

* ``grok-3-mini`` (and ``-fast``) show their thinking: ``message.reasoning_content`` in a response,
  ``delta.reasoning_content`` pieces before the answer in a stream. The text is
  ``"Thinking about: " + prompt`` (see :mod:`._content`).
* ``grok-4`` and the ``*-reasoning`` models think without showing it: only the token count.
* Usage reports ``completion_tokens_details.reasoning_tokens`` *apart from* ``completion_tokens``
  (``total_tokens`` is the sum of all three), unlike OpenAI where completion includes reasoning.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ._content import stable_id
from ._faults import Fault
from ._server import FakeSpec, state_of
from .openai import Flavour, serve_on_v1, stream_error_frame

__all__ = ["FLAVOUR", "MODELS", "SPEC"]

NAME = "xai"
# model -> (context window, reasoning: "shown" | "hidden" | None)
_TABLE: dict[str, tuple[int, str | None]] = {
    "grok-4": (256_000, "hidden"), "grok-4-0709": (256_000, "hidden"),
    "grok-4-fast-reasoning": (2_000_000, "hidden"), "grok-4-fast-non-reasoning": (2_000_000, None),
    "grok-3": (131_072, None), "grok-3-mini": (131_072, "shown"), "grok-3-mini-fast": (131_072, "shown"),
    "grok-code-fast-1": (256_000, "shown"),
}
MODELS: dict[str, int] = {m: window for m, (window, _) in _TABLE.items()}
REASONING: dict[str, str] = {m: mode for m, (_, mode) in _TABLE.items() if mode}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # xAI's error body is flat: a gRPC status description and the message, no nested object.
    return web.json_response({"code": code, "error": message}, status=status, headers=headers)


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    headers = {"x-request-id": stable_id(status, time.time())}
    if status == 429:
        headers["retry-after"] = fault.retry_after if fault and fault.retry_after else "1"
        return _error(429, "Some resource has been exhausted",
                      "Too many requests: your team has exceeded its requests per second rate limit.", headers)
    if status >= 500:
        return _error(status, "Internal error", "The service encountered an internal error. Please retry.", headers)
    return _error(status, "Client specified an invalid argument", message, headers)


def _masked(key: str) -> str:
    return key[:2] + "***" + key[-2:] if len(key) > 4 else "***"


def _auth(request: web.Request) -> web.Response | None:
    auth = request.headers.get("Authorization", "")
    key = auth[7:].strip() if auth.startswith("Bearer ") else ""
    if not key:
        return _error(400, "Client specified an invalid argument",
                      "Incorrect API key provided: ***. You can obtain an API key from https://console.x.ai.")
    if key != state_of(request).api_key:
        return _error(400, "Client specified an invalid argument",
                      f"Incorrect API key provided: {_masked(key)}. You can obtain an API key from "
                      "https://console.x.ai.")
    return None


def _model_missing(model: str) -> web.Response:
    return _error(404, "Some requested entity was not found",
                  f"The model {model} does not exist or your team does not have access to it.")


def _usage(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion + reasoning,
        "prompt_tokens_details": {"text_tokens": prompt, "audio_tokens": 0, "image_tokens": 0, "cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        "num_sources_used": 0,
    }


def _invalid(message: str, param: str | None, code: str | None) -> web.Response:
    # xAI's flat shape for validation and context-length errors too, never OpenAI's nested one.
    return _error(400, "Client specified an invalid argument", message)


FLAVOUR = Flavour(
    NAME, MODELS, check_auth=_auth, model_missing=_model_missing, owned_by="xai", reasoning=REASONING, usage=_usage,
    family=r"grok-[a-z0-9.-]+", reasoning_family="", reasoning_rejects_max_tokens=False, invalid=_invalid,
)

def add_routes(app: web.Application) -> None:
    serve_on_v1(app, FLAVOUR, SPEC)


def not_found(request: web.Request) -> web.Response:
    # xAI's flat error shape for every error, unknown paths included.
    return _error(404, "Some requested entity was not found", f"Path not found: {request.method} {request.path}")


# No ``Server``: no recorded api.x.ai answer was found to name one (naming none is closer than aiohttp's own).
SPEC = FakeSpec(NAME, "/v1", add_routes, error_response, stream_error_frame,
                auth=lambda request, raw: _auth(request), not_found=not_found)

"""A fake of Docker Model Runner's OpenAI-compatible API, written from
https://docs.docker.com/ai/model-runner/api-reference/.

Paths (the runner listens on ``http://localhost:12434`` from the host): ``POST
/engines/v1/chat/completions`` and ``POST /engines/llama.cpp/v1/chat/completions`` (the engine
named), ``GET /engines/v1/models`` and ``GET /engines/llama.cpp/v1/models``. No auth: any or no
``Authorization`` header is accepted.

Models are namespaced Docker Hub ids (``ai/smollm2``), optionally tagged (``ai/smollm2:360M-Q4_K_M``).
A model that is not pulled gets 404 with the plain-text body ``model not found`` (the runner is a
Go server answering with ``http.Error``). Usage has only the three totals, as llama.cpp reports it.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ._faults import Fault
from ._prompt_cache import install
from ._server import Call, FakeSpec, endpoint
from .openai import Flavour, answer_chat, answer_models

__all__ = ["FLAVOUR", "MODELS", "SPEC"]

NAME = "docker"
# model -> context window
MODELS: dict[str, int] = {"ai/smollm2": 8_192, "ai/llama3.2": 131_072, "ai/qwen3": 40_960, "ai/gemma3": 131_072,
                          "ai/mistral": 32_768}


# llama.cpp server's format_error_response: error type per status.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          501: "not_supported_error", 503: "unavailable_error"}


def _llama_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The body llama.cpp's server (DMR's engine) sends: ``{"error": {"code", "message", "type"}}``."""
    type_ = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return web.json_response({"error": {"code": status, "message": message, "type": type_}}, status=status,
                             headers=headers)


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    headers = {"Retry-After": fault.retry_after or "1"} if status == 429 and fault else None
    text = {429: "Too many requests", 503: "Loading model", 500: "Internal server error"}.get(status, message)
    return _llama_error(status, text, headers)


def stream_error_frame() -> bytes:
    return b'error: {"code":500,"message":"Internal server error","type":"server_error"}\n\n'


def _invalid(message: str, param: str | None, code: str | None) -> web.Response:
    return _llama_error(400, message)


def _no_auth(request: web.Request) -> web.Response | None:
    return None


def _model_missing(model: str) -> web.Response:
    return web.Response(status=404, text="model not found\n", content_type="text/plain")


def _usage(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion}


class _DockerFlavour(Flavour):
    def knows(self, model: str) -> bool:
        # a tag picks a quantisation of the same model
        return model.partition(":")[0] in self.models or re.fullmatch(self.family, model) is not None


FLAVOUR = _DockerFlavour(
    NAME, MODELS, check_auth=_no_auth, model_missing=_model_missing, owned_by="docker", usage=_usage,
    family=r"ai/[a-z0-9._-]+(:[A-Za-z0-9._-]+)?", reasoning_family="", reasoning_rejects_max_tokens=False,
    invalid=_invalid,
)


@endpoint("chat")
async def chat(call: Call) -> web.StreamResponse:
    return await answer_chat(call, FLAVOUR)


@endpoint("models", content=False)
async def models(call: Call) -> web.StreamResponse:
    return await answer_models(call, FLAVOUR)


def add_routes(app: web.Application) -> None:
    install(app)  # prompt-cache memory (cache: marked edit)
    for prefix in ("/engines/v1", "/engines/llama.cpp/v1"):
        app.router.add_post(prefix + "/chat/completions", chat)
        app.router.add_get(prefix + "/models", models)


SPEC = FakeSpec(NAME, "/engines/v1", add_routes, error_response, stream_error_frame)

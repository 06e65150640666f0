"""A fake of Azure OpenAI's Chat Completions, written from Microsoft's REST reference
(https://learn.microsoft.com/azure/ai-foundry/openai/reference) and content-filter guide
(https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter).

The fake's root is the resource endpoint (what ``AsyncAzureOpenAI(azure_endpoint=…)`` takes).

Paths:

* ``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` — ``api-version`` is
  required: missing → 404 ``{"error": {"code": "404", "message": "Resource not found"}}`` (what
  Azure really answers); not in :data:`API_VERSIONS` → 400 ``{"error": {"code": "BadRequest",
  "message": "API version not supported"}}``.
* ``POST /openai/v1/chat/completions`` — the v1 API: no ``api-version``, or ``preview``/``latest``;
  the deployment is the body's ``model``.
* ``GET /openai/v1/models``.
* ``POST /openai/deployments/{deployment}/embeddings?api-version=…`` and ``POST /openai/v1/embeddings``
  (Embeddings - Create), answered as the OpenAI fake's ``/v1/embeddings`` answers the same model.
  An embedding operation on a chat deployment, and a chat completion on an embedding deployment, get
  Azure's 400 ``OperationNotSupported`` ("The embeddings operation does not work with the specified
  model, gpt-35-turbo. …", as the service is reported answering it).
* ``GET /openai/models?api-version=…`` and ``GET /openai/models/{model}?api-version=…`` (Models - List /
  Get: ``status``, ``capabilities``, ``lifecycle_status``, ``deprecation``, …), what
  ``AzureOpenAI(api_version=…).models.list()`` calls.

Deployments: a deployment exists when it is named after one of the OpenAI fake's models
(``gpt-4o-mini``, …, and the embedding models ``text-embedding-3-small``, ``text-embedding-3-large``,
``text-embedding-ada-002``); any other name gets 404 ``DeploymentNotFound``.

Auth: the ``api-key`` header, or ``Authorization: Bearer <token>`` (a Microsoft Entra ID token;
the fake accepts its API key as the token). Anything else → 401 ``{"error": {"code": "401",
"message": "Access denied due to invalid subscription key or wrong API endpoint. …"}}``.

Content filtering — every answer carries Azure's annotations: ``prompt_filter_results`` (in a
stream, as a first chunk with ``"choices": []`` and empty id/model) and per-choice
``content_filter_results``, all ``"filtered": false, "severity": "safe"`` unless triggered:

* a prompt containing ``FILTER_PROMPT`` is refused with HTTP 400, ``"code": "content_filter"``,
  ``innererror.code: "ResponsibleAIPolicyViolation"`` and ``innererror.content_filter_result``
  flagging ``violence`` (severity ``medium``);
* a prompt containing ``FILTER_ANSWER`` gets an empty answer with ``finish_reason:
  "content_filter"`` and ``content_filter_results.violence`` ``{"filtered": true, "severity": "high"}``.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ._content import Decision, stable_id
from ._faults import Fault
from ._prompt_cache import install
from ._server import Call, FakeSpec, endpoint, send_json, state_of
from .openai import (
    EMBEDDING_MODELS,
    MODELS,
    Extras,
    Flavour,
    answer_chat,
    answer_embeddings,
    answer_models,
    stream_error_frame,
)

__all__ = ["API_VERSIONS", "FILTER_ANSWER", "FILTER_PROMPT", "FLAVOUR", "SPEC"]

NAME = "azure"
FILTER_PROMPT = "FILTER_PROMPT"
FILTER_ANSWER = "FILTER_ANSWER"
API_VERSIONS = frozenset(
    {
        "2024-02-01", "2024-06-01", "2024-10-21", "2024-12-01-preview", "2025-01-01-preview",
        "2025-03-01-preview", "2025-04-01-preview",
    }
)
_V1_VERSIONS = frozenset({"preview", "latest"})
_DENIED = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
           "key for an active subscription and use a correct regional API endpoint for your resource.")


def _error(http_status: int, code: str, message: str, /, headers: dict[str, str] | None = None,
           **more: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **more}}, status=http_status,
                             headers=headers)


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """Azure's body for a status a fault asked for (the ``code`` is the status as a string)."""
    headers = {"apim-request-id": stable_id(status, time.time(), n=32), "x-ms-region": "East US"}
    if status == 429:
        wait = fault.retry_after if fault and fault.retry_after else "1"
        headers.update({"retry-after": wait, "x-ratelimit-remaining-requests": "0"})
        return _error(429, "429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                      f"2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please "
                      f"retry after {wait} second.", headers)
    if status == 401:
        return _error(401, "401", _DENIED, headers)
    if status >= 500:
        return _error(status, "InternalServerError", "The service is temporarily unable to process your request. "
                      "Please try again later.", headers)
    return _error(status, str(status), message, headers)


def _check(request: web.Request) -> web.Response | None:
    version = request.query.get("api-version")
    if request.path.startswith("/openai/v1/"):
        if version is not None and version not in _V1_VERSIONS:
            return _error(400, "BadRequest", "API version not supported")
    elif version is None:  # deployments and /openai/models need a dated api-version
        return _error(404, "404", "Resource not found")
    elif version not in API_VERSIONS:
        return _error(400, "BadRequest", "API version not supported")
    key = state_of(request).api_key
    auth = request.headers.get("Authorization", "")
    if request.headers.get("api-key") == key or auth == f"Bearer {key}":
        return None
    return _error(401, "401", _DENIED)


def _deployment_missing(name: str) -> web.Response:
    return _error(404, "DeploymentNotFound", "The API deployment for this resource does not exist. If you created "
                  "the deployment within the last 5 minutes, please wait a moment and try again.")


def _results(flagged: str | None, severity: str, *, answer: bool) -> dict[str, Any]:
    def cat(name: str) -> dict[str, Any]:
        hit = name == flagged
        return {"filtered": hit, "severity": severity if hit else "safe"}

    out: dict[str, Any] = {c: cat(c) for c in ("hate", "self_harm", "sexual", "violence")}
    if answer:
        out["protected_material_code"] = {"filtered": False, "detected": False}
        out["protected_material_text"] = {"filtered": False, "detected": False}
    else:
        out["jailbreak"] = {"filtered": False, "detected": False}
    return out


def _screen(prompt: str, d: Decision) -> tuple[Decision, Extras] | web.Response:
    if FILTER_PROMPT in prompt:
        return _error(
            400, "content_filter",
            "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
            "Please modify your prompt and retry. To learn more about our content filtering policies please read "
            "our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
            param="prompt", type=None, status=400,
            innererror={"code": "ResponsibleAIPolicyViolation",
                        "content_filter_result": _results("violence", "medium", answer=False)},
        )
    top = {"prompt_filter_results": [{"prompt_index": 0,
                                      "content_filter_results": _results(None, "safe", answer=False)}]}
    if FILTER_ANSWER in prompt:
        blocked = Decision(text="", finish="content_filter")
        return blocked, Extras(top, {"content_filter_results": _results("violence", "high", answer=True)})
    return d, Extras(top, {"content_filter_results": _results(None, "safe", answer=True)})


FLAVOUR = Flavour(NAME, MODELS, check_auth=_check, model_missing=_deployment_missing, screen=_screen)


def _unsupported(operation: str, model: str) -> web.Response:
    return _error(400, "OperationNotSupported", f"The {operation} operation does not work with the specified model, "
                  f"{model}. Please choose different model and try again. You can learn more about which models can "
                  "be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.")


def _not_for_chat(model: Any) -> web.Response | None:
    """An embedding deployment asked for a chat completion."""
    return _unsupported("chatCompletion", model) if isinstance(model, str) and model in EMBEDDING_MODELS else None


def _not_for_embeddings(request: web.Request, model: str) -> web.Response | None:
    """A chat deployment asked for embeddings (an unknown one is DeploymentNotFound, answered after)."""
    declared = model in state_of(request).unknown_models.get(NAME, ())
    known = FLAVOUR.knows(model) and not declared
    return _unsupported("embeddings", model) if known and model not in EMBEDDING_MODELS else None


@endpoint("chat")
async def deployment_chat(call: Call) -> web.StreamResponse:
    deployment = call.request.match_info["deployment"]
    return _not_for_chat(deployment) or await answer_chat(call, FLAVOUR, model=deployment)


@endpoint("chat")
async def v1_chat(call: Call) -> web.StreamResponse:
    model = call.json.get("model") if isinstance(call.json, dict) else None
    return _not_for_chat(model) or await answer_chat(call, FLAVOUR)


@endpoint("embeddings")
async def deployment_embeddings(call: Call) -> web.StreamResponse:
    # the deployment is resolved (found, and able to embed) before the body is read
    deployment = call.request.match_info["deployment"]
    refused = _not_for_embeddings(call.request, deployment)
    if refused is None and (deployment not in EMBEDDING_MODELS
                            or deployment in state_of(call.request).unknown_models.get(NAME, ())):
        refused = _deployment_missing(deployment)
    return refused or await answer_embeddings(call, FLAVOUR, model=deployment)


@endpoint("embeddings")
async def v1_embeddings(call: Call) -> web.StreamResponse:
    return await answer_embeddings(call, FLAVOUR, refuse=lambda model: _not_for_embeddings(call.request, model))


@endpoint("models", content=False)
async def v1_models(call: Call) -> web.StreamResponse:
    return await answer_models(call, FLAVOUR)


def _model_item(model: str) -> dict[str, Any]:
    # Models - List (learn.microsoft.com/rest/api/azureopenai/models/list): base models of the resource.
    chat = not model.startswith("text-embedding")
    return {"status": "succeeded", "model": None, "fine_tune": None,
            "capabilities": {"fine_tune": False, "inference": True, "completion": False, "chat_completion": chat,
                             "embeddings": not chat},
            "lifecycle_status": "generally-available",
            "deprecation": {"inference": 1_790_000_000},
            "id": model, "created_at": 1_715_558_400, "object": "model"}


@endpoint("models", content=False)
async def list_models(call: Call) -> web.StreamResponse:
    return await send_json(call.request, {"data": [_model_item(m) for m in (*MODELS, *EMBEDDING_MODELS)],
                                          "object": "list"}, call.fault)


@endpoint("models", content=False)
async def get_model(call: Call) -> web.StreamResponse:
    model = call.request.match_info["model"]
    known = FLAVOUR.knows(model) or model in EMBEDDING_MODELS
    if not known or model in state_of(call.request).unknown_models.get(NAME, ()):
        return _error(404, "404", "Resource not found")
    return await send_json(call.request, _model_item(model), call.fault)


def add_routes(app: web.Application) -> None:
    install(app)  # prompt-cache memory (cache: marked edit)
    app.router.add_get("/openai/models", list_models)
    app.router.add_get("/openai/models/{model}", get_model)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", deployment_chat)
    app.router.add_post("/openai/v1/chat/completions", v1_chat)
    app.router.add_post("/openai/deployments/{deployment}/embeddings", deployment_embeddings)
    app.router.add_post("/openai/v1/embeddings", v1_embeddings)
    app.router.add_get("/openai/v1/models", v1_models)
    from ._batch import add_azure_routes  # hook: batch
    from .openai_responses import (
        add_azure_routes as add_responses_routes,  # hook: responses (/openai[/v1]/responses)
    )

    add_azure_routes(app)
    add_responses_routes(app, SPEC)


# The fake's root is the resource endpoint: Azure's paths all start with /openai.
def not_found(request: web.Request) -> web.Response:
    return _error(404, "404", "Resource not found")


SPEC = FakeSpec(NAME, "", add_routes, error_response, stream_error_frame,
                auth=lambda request, raw: _check(request), not_found=not_found)

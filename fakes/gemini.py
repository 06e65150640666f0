"""A fake of Google's Gemini API (Generative Language API), written from Google's API reference.

Paths (https://ai.google.dev/api; the POST methods also under ``v1``): ``POST /v1beta/models/{model}:generateContent``,
``POST /v1beta/models/{model}:streamGenerateContent`` (SSE with ``?alt=sse``, else one JSON array),
``POST /v1beta/models/{model}:countTokens``, ``GET /v1beta/models``, ``GET /v1beta/models/{model}``,
``POST /v1beta/models/{model}:embedContent`` and ``:batchEmbedContents`` (:func:`embed`).

Auth: the key in the ``x-goog-api-key`` header or the ``key`` query parameter, as the real API
accepts both. No key gets 403 ``PERMISSION_DENIED``; a wrong key gets what Google sends for one:
400 ``INVALID_ARGUMENT`` with an ``ErrorInfo`` detail whose reason is ``API_KEY_INVALID``.
Errors are ``google.rpc.Status`` JSON: ``{"error": {"code", "message", "status", "details"}}``; a
429 is ``RESOURCE_EXHAUSTED`` with ``QuotaFailure``, ``Help`` and ``RetryInfo`` (``retryDelay``)
details and no Retry-After header, as the Gemini API sends it; a 502 is the Google front end's
HTML page. Content follows :mod:`interlingua.fakes._content`: ``toolConfig`` mode ``ANY`` demands a
call (one ``allowedFunctionNames`` entry names it), ``thinkingConfig.includeThoughts`` adds a
``thought: true`` part and a ``thoughtSignature`` on the first answer part.

Streams are framed as Google frames them: each event is ``data: <GenerateContentResponse>\\r\\n\\r\\n``,
every chunk a delta carrying ``usageMetadata`` with running totals; the last carries
``finishReason``. There is no end sentinel. A mid-stream error is a ``data:`` event holding the
``{"error": …}`` Status object.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from aiohttp import web

from interlingua.core._memo import remember

from ._content import SCRIPTED, Decision, count_tokens, decide, split_for_stream, stable_id
from ._embeddings import vector, wire_floats
from ._faults import Fault
from ._jsonenc import compact
from ._prompt_cache import Segment, install, prompt_cache
from ._server import Call, FakeSpec, endpoint, send_json, send_stream, state_of
from ._shapes import ANY, MapOf, Ref, check, proto_number, snake

__all__ = ["EMBEDDING_MODELS", "MODELS", "SPEC", "generate_payload", "stream_frames", "usage_metadata"]

NAME = "gemini"
# model -> (inputTokenLimit, outputTokenLimit, thinking); https://ai.google.dev/gemini-api/docs/models
MODELS: dict[str, tuple[int, int, bool]] = {
    "gemini-3-pro-preview": (1_048_576, 65_536, True),
    "gemini-3-flash-preview": (1_048_576, 65_536, True),
    "gemini-2.5-pro": (1_048_576, 65_536, True),
    "gemini-2.5-flash": (1_048_576, 65_536, True),
    "gemini-2.5-flash-lite": (1_048_576, 65_536, True),
    "gemini-2.0-flash": (1_048_576, 8_192, False),
    "gemini-2.0-flash-lite": (1_048_576, 8_192, False),
    "gemma-3-27b-it": (131_072, 8_192, False),
}
_METHODS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")
# embedding model -> (inputTokenLimit, its vector's size); https://ai.google.dev/gemini-api/docs/models
# ("gemini-embedding-001 … Output dimension size: Flexible, supports: 128 - 3072"). Any other
# ``gemini-embedding-*`` id is answered as it. text-embedding-004 was shut down on January 14, 2026
# (https://ai.google.dev/gemini-api/docs/deprecations), so it is an unknown model here, as there.
EMBEDDING_MODELS: dict[str, tuple[int, int]] = {
    "gemini-embedding-001": (2_048, 3_072),
}
_EMBEDDING_FAMILY = re.compile(r"gemini-embedding-[a-z0-9.-]+")
# HTTP status -> google.rpc.Code name and the message Google sends with it.
_STATUS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, "
          "login cookie or other valid authentication credential. See "
          "https://developers.google.com/identity/sign-in/web/devconsole-project."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    409: ("ABORTED", "The operation was aborted."),
    429: ("RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details. "
          "For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."),
    499: ("CANCELLED", "The operation was cancelled."),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report in "
          "https://developers.generativeai.google/guide/troubleshooting"),
    501: ("UNIMPLEMENTED", "Operation is not implemented, or supported, or enabled."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
_MODES = {"AUTO": "auto", "ANY": "required", "NONE": "none", "VALIDATED": "auto"}
_CONTENT_TYPE = "application/json; charset=UTF-8"
_GFE_502 = (
    b"<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 502 (Server Error)!!1</title>\n"
    b"  <p><b>502.</b> <ins>That\xe2\x80\x99s an error.</ins>\n  <p>The server encountered a temporary error and "
    b"could not complete your request.<p>Please try again in 30 seconds.  <ins>That\xe2\x80\x99s all we know.</ins>\n"
)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field by its lowerCamelCase JSON name or its proto snake_case name: proto3 JSON parsers accept
    both (https://protobuf.dev/programming-guides/json/), and google-genai sends some fields
    (``parameters_json_schema``, ``include_thoughts``) in snake_case."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    return obj.get(re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name), default)


def _status(code: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message,
                           "status": _STATUS.get(code, ("UNKNOWN", ""))[0]}
    if details:
        err["details"] = details
    return {"error": err}


def _error(code: int, message: str, details: list[dict[str, Any]] | None = None) -> web.Response:
    return web.Response(status=code, text=json.dumps(_status(code, message, details), indent=2),
                        content_type="application/json", charset="UTF-8")


def _retry_info(delay: str) -> list[dict[str, Any]]:
    return [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
             "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
             "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"}, "quotaValue": "10"}]},
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """Google's body for a status the fault asked for."""
    if status == 502:
        return web.Response(status=502, body=_GFE_502, content_type="text/html", charset="UTF-8")
    if status == 429:
        delay = (fault.retry_after if fault and fault.retry_after else "1").rstrip("s") + "s"
        return _error(429, _STATUS[429][1], _retry_info(delay))
    return _error(status, _STATUS.get(status, ("UNKNOWN", message))[1] or message)


def stream_error_frame() -> bytes:
    return _frame(_status(500, _STATUS[500][1]))


def _frame(obj: dict[str, Any]) -> bytes:
    return b"data: " + compact(obj) + b"\r\n\r\n"


def _auth(request: web.Request) -> web.Response | None:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        return _error(403, "Method doesn't allow unregistered callers (callers without established identity). "
                      "Please use API Key or other form of API consumer identity to call this API.")
    if key != state_of(request).api_key:
        return _error(400, "API key not valid. Please pass a valid API key.", [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
             "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
            {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
             "message": "API key not valid. Please pass a valid API key."},
        ])
    return None


def _texts(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return "".join(p.get("text", "") for p in content.get("parts") or () if isinstance(p, dict)
                   and isinstance(p.get("text"), str) and not p.get("thought"))


# The request types of the Gemini API (ai.google.dev/api, "GenerateContentRequest" and the types it
# links; the generativelanguage v1beta protos). Proto3 JSON: a field may be spelled lowerCamelCase or
# snake_case; an unknown name is refused ("Cannot find field"). ``Schema`` is Google's OpenAPI subset:
# no ``additionalProperties``, no ``$schema`` — the most common real tool-calling 400.
_SCHEMA: dict[str, Any] = {}
_SCHEMA.update({
    "type": str, "format": str, "title": str, "description": str, "nullable": bool, "enum": [str],
    "maxItems": ANY, "minItems": ANY, "properties": MapOf(Ref(lambda: _SCHEMA)), "required": [str],
    "minProperties": ANY, "maxProperties": ANY, "minLength": ANY, "maxLength": ANY, "pattern": str,
    "example": ANY, "anyOf": [Ref(lambda: _SCHEMA)], "propertyOrdering": [str], "default": ANY,
    "items": Ref(lambda: _SCHEMA), "minimum": float, "maximum": float,
})
_PART = {
    "text": str, "inlineData": {"mimeType": str, "data": str}, "fileData": {"mimeType": str, "fileUri": str},
    "functionCall": {"id": str, "!name": str, "args": MapOf(ANY)},
    "functionResponse": {"id": str, "!name": str, "response": MapOf(ANY), "willContinue": bool, "scheduling": str,
                         "parts": ANY},
    "executableCode": ANY, "codeExecutionResult": ANY, "thought": bool, "thoughtSignature": str,
    "videoMetadata": ANY, "partMetadata": ANY, "mediaResolution": ANY,
}
_CONTENT = {"role": str, "parts": [_PART]}
_FUNCTION = {"!name": str, "description": str, "behavior": str, "parameters": _SCHEMA,
             "parametersJsonSchema": ANY, "response": _SCHEMA, "responseJsonSchema": ANY}
_TOOL = {"functionDeclarations": [_FUNCTION], "googleSearchRetrieval": ANY, "codeExecution": ANY,
         "googleSearch": ANY, "computerUse": ANY, "urlContext": ANY, "fileSearch": ANY, "googleMaps": ANY}
# v1's GenerationConfig (googleapis google/ai/generativelanguage/v1/generative_service.proto): no
# response MIME type, schema, modalities or thinking config — those are v1beta's
_GENERATION_V1 = {
    "candidateCount": int, "stopSequences": [str], "maxOutputTokens": int, "temperature": float, "topP": float,
    "topK": int, "seed": int, "presencePenalty": float, "frequencyPenalty": float, "responseLogprobs": bool,
    "logprobs": int, "enableEnhancedCivicAnswers": bool,
}
_GENERATION_V1BETA = {
    **_GENERATION_V1, "responseMimeType": str,
    "responseSchema": _SCHEMA, "responseJsonSchema": ANY, "_responseJsonSchema": ANY,
    "responseModalities": [str], "speechConfig": ANY, "mediaResolution": str, "imageConfig": ANY,
    "thinkingConfig": {"includeThoughts": bool, "thinkingBudget": int, "thinkingLevel": str},
}
_SAFETY = [{"category": str, "threshold": str, "method": str}]
# v1's GenerateContentRequest is model, contents, safety_settings, generation_config only (the v1 proto):
# system instructions, tools, tool config, thinking and response schemas are v1beta features, refused
# on v1 with "Unknown name … Cannot find field" as the real service does.
_REQUEST = {
    "v1": {"model": str, "contents": [_CONTENT], "safetySettings": _SAFETY, "generationConfig": _GENERATION_V1},
    "v1beta": {"model": str, "contents": [_CONTENT], "safetySettings": _SAFETY,
               "generationConfig": _GENERATION_V1BETA, "cachedContent": str, "tools": [_TOOL],
               "toolConfig": {"functionCallingConfig": {"mode": str, "allowedFunctionNames": [str]},
                              "retrievalConfig": ANY},
               "systemInstruction": _CONTENT},
}
# countTokens takes ``contents`` or a whole ``generateContentRequest`` (checked again once unwrapped).
_COUNT = {version: {**req, "generateContentRequest": req} for version, req in _REQUEST.items()}
_PROTO_TYPES = {int: "TYPE_INT32", float: "TYPE_FLOAT", str: "TYPE_STRING", bool: "TYPE_BOOL"}


def _proto_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + snake(p)
    return out


def _bad_request(message: str, field: str | None) -> web.Response:
    violation = {"description": message} if field is None else {"field": field, "description": message}
    return _error(400, message, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                  "fieldViolations": [violation]}])


def shape_problem(body: Any, version: str, counting: bool = False) -> web.Response | None:
    """Google's 400 for a body its proto parser refuses (unknown field, wrong JSON type), or ``None``."""
    return _shape_refusal(body, (_COUNT if counting else _REQUEST).get(version, _REQUEST["v1beta"]))


def _shape_refusal(body: Any, shape: Any) -> web.Response | None:
    """Google's 400 for a body ``shape`` (a :mod:`._shapes` shape) refuses, or ``None``."""
    problem = check(body, shape, aliases=True, proto=True)
    if problem is None or problem.kind == "missing":
        return None  # a missing field is a semantic error, reported by _validate in its own words
    at = _proto_path(problem.path)
    if problem.kind == "unknown":
        where = f" at '{at}'" if at else ""
        return _bad_request(f'Invalid JSON payload received. Unknown name "{problem.name}"{where}: Cannot find field.',
                            at or None)
    expected = problem.expected
    if expected in _PROTO_TYPES and not isinstance(problem.value, dict | list):
        message = f"Invalid value at '{at}' ({_PROTO_TYPES[expected]}), {json.dumps(problem.value)}"
    elif isinstance(problem.value, list):
        message = f"Invalid JSON payload received. Proto field is not repeating, cannot start list at '{at}'."
    elif isinstance(problem.value, dict):
        message = f"Invalid JSON payload received. Starting an object on a scalar field at '{at}'."
    else:
        message = f"Invalid JSON payload received. Expected {'an array' if expected is list else 'an object'} " \
                  f"at '{at}', got {json.dumps(problem.value)}."
    return _bad_request(message, at)


def _validate(body: Any, counting: bool = False, version: str = "v1beta") -> web.Response | None:
    if not isinstance(body, dict):
        return _error(400, "Invalid JSON payload received. Unexpected token.")
    refused = shape_problem(body, version, counting)
    if refused is not None:
        return refused
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        if counting:
            return None
        return _error(400, "* GenerateContentRequest.contents: contents is not specified\n")
    prev_calls: list[str] = []
    for i, c in enumerate(contents):
        if not isinstance(c, dict):
            return _error(400, f'Invalid value at \'contents[{i}]\', expected an object.')
        if c.get("role", "user") not in ("user", "model"):
            return _error(400, "Please use a valid role: user, model.")
        parts = c.get("parts")
        if not isinstance(parts, list) or not parts:
            return _error(400, f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
        responses = [_get(p, "functionResponse").get("name") for p in parts
                     if isinstance(p, dict) and isinstance(_get(p, "functionResponse"), dict)]
        if responses and (len(responses) != len(prev_calls) or sorted(responses) != sorted(prev_calls)):
            return _error(400, "Please ensure that the number of function response parts is equal to the number "
                          "of function call parts of the function call turn.")
        prev_calls = [_get(p, "functionCall").get("name") for p in parts
                      if isinstance(p, dict) and isinstance(_get(p, "functionCall"), dict)]
    return None


def _prompt_tokens(body: dict[str, Any]) -> int:
    n = count_tokens(_texts(_get(body, "systemInstruction")))
    for c in body.get("contents") or ():
        n += count_tokens(_texts(c))
        for p in (c.get("parts") if isinstance(c, dict) else None) or ():
            for k in ("functionCall", "functionResponse"):
                if _get(p, k) is not None:
                    n += count_tokens(json.dumps(_get(p, k)))
    for t in body.get("tools") or ():
        n += count_tokens(json.dumps(t))
    return n


def _segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt in prefix order for implicit caching: system instruction, tools, then each turn."""
    out = []
    system = _get(body, "systemInstruction")
    if system:
        out.append(Segment(system, count_tokens(_texts(system))))
    tools = body.get("tools") or []
    if tools:
        out.append(Segment(tools, sum(count_tokens(json.dumps(t)) for t in tools)))
    for i, c in enumerate(body.get("contents") or ()):
        out.append(Segment([i, c], _prompt_tokens({"contents": [c]})))
    return out


def _decision(body: dict[str, Any]) -> tuple[Decision, bool]:
    contents = body["contents"]
    last = contents[-1]
    tool_result = None
    for p in last.get("parts") or ():
        fr = _get(p, "functionResponse")
        if isinstance(fr, dict):
            resp = fr.get("response") or {}
            out = resp.get("output", resp.get("error")) if isinstance(resp, dict) else None
            tool_result = (str(fr.get("name", "tool")), out if isinstance(out, str) else json.dumps(resp))
            break
    prompt = next((_texts(c) for c in reversed(contents) if c.get("role", "user") == "user" and _texts(c)), "")
    decls = [d for t in body.get("tools") or () for d in _get(t, "functionDeclarations") or () if isinstance(d, dict)]
    tools = [(str(d.get("name")), _get(d, "parametersJsonSchema") or d.get("parameters") or {}) for d in decls]
    fcc = _get(_get(body, "toolConfig"), "functionCallingConfig") or {}
    choice = _MODES.get(str(fcc.get("mode", "AUTO")).upper(), "auto")
    allowed = _get(fcc, "allowedFunctionNames") or []
    forced = allowed[0] if choice == "required" and len(allowed) == 1 else None
    if allowed and choice == "required":
        tools = [t for t in tools if t[0] in allowed]
    gen = _get(body, "generationConfig") or {}
    schema = _get(gen, "responseJsonSchema") or _get(gen, "responseSchema")
    thinking = bool(_get(_get(gen, "thinkingConfig"), "includeThoughts"))
    d = decide(
        prompt=prompt, tools=tools, choice=choice, forced_tool=forced, tool_result=tool_result,
        schema=schema if isinstance(schema, dict) else None,
        json_mode=_get(gen, "responseMimeType") == "application/json",
        max_tokens=_whole(_get(gen, "maxOutputTokens")), stop=list(_get(gen, "stopSequences") or ()), thinking=thinking,
    )
    return d, thinking


def usage_metadata(prompt: int, candidates: int, thoughts: int = 0, cached: int = 0) -> dict[str, Any]:
    """``usageMetadata`` as the API writes it: proto3 JSON leaves zero counts out. ``promptTokenCount``
    includes the ``cachedContentTokenCount`` read from the (implicit) cache."""
    u: dict[str, Any] = {"promptTokenCount": prompt}
    if cached:
        u["cachedContentTokenCount"] = cached
        u["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if candidates:
        u["candidatesTokenCount"] = candidates
    u["totalTokenCount"] = prompt + candidates + thoughts
    u["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if thoughts:
        u["thoughtsTokenCount"] = thoughts
    return u


def _signature(seed: str) -> str:
    return "CiQB" + stable_id("signature", seed, n=40)


def _call_part(d: Decision) -> dict[str, Any]:
    return {"functionCall": {"name": d.tool_name, "args": d.tool_args or {}}}


def _candidate_tokens(d: Decision) -> int:
    return count_tokens(json.dumps(d.tool_args or {})) + 3 if d.tool_name else count_tokens(d.text)


def generate_payload(model: str, d: Decision, prompt_tokens: int, response_id: str, *, thinking: bool,
                     cached: int = 0) -> dict[str, Any]:
    """A whole ``GenerateContentResponse`` as ``generateContent`` returns it."""
    parts: list[dict[str, Any]] = []
    if thinking:
        parts.append({"text": d.reasoning, "thought": True})
    answer = _call_part(d) if d.tool_name else {"text": d.text}
    if thinking:
        answer["thoughtSignature"] = _signature(response_id)
    parts.append(answer)
    thoughts = count_tokens(d.reasoning) if thinking else 0
    return {
        "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": _FINISH[d.finish], "index": 0}],
        "usageMetadata": usage_metadata(prompt_tokens, _candidate_tokens(d), thoughts, cached),
        "modelVersion": model,
        "responseId": response_id,
    }


def stream_frames(model: str, d: Decision, prompt_tokens: int, response_id: str, *, thinking: bool,
                  cached: int = 0) -> list[bytes]:
    """The SSE events of ``streamGenerateContent?alt=sse``: the same answer as :func:`generate_payload`,
    cut into deltas, each with running ``usageMetadata``; the last carries ``finishReason``."""
    deltas: list[tuple[dict[str, Any], int, int]] = []  # (part, candidate tokens so far, thoughts so far)
    thought_text = ""
    if thinking:
        for piece in split_for_stream(d.reasoning) or [""]:
            thought_text += piece
            deltas.append(({"text": piece, "thought": True}, 0, count_tokens(thought_text)))
    thoughts = count_tokens(thought_text)
    if d.tool_name:
        deltas.append((_call_part(d), _candidate_tokens(d), thoughts))
    else:
        text = ""
        for piece in split_for_stream(d.text) or [""]:
            text += piece
            deltas.append(({"text": piece}, count_tokens(text), thoughts))
    if thinking:
        first_answer = next(i for i, (p, _, _) in enumerate(deltas) if not p.get("thought"))
        deltas[first_answer][0]["thoughtSignature"] = _signature(response_id)
    frames = []
    for i, (part, cand, th) in enumerate(deltas):
        candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if i == len(deltas) - 1:
            candidate["finishReason"] = _FINISH[d.finish]
        frames.append(_frame({"candidates": [candidate], "usageMetadata": usage_metadata(prompt_tokens, cand, th, cached),
                              "modelVersion": model, "responseId": response_id}))
    return frames


# Any well-formed Gemini or Gemma id (``gemini-2.5-flash-preview-09-2025``, ``gemini-flash-latest``,
# ``gemma-3-4b-it`` …) is answered; ids a test declares unknown (``fake.models("gemini", unknown=[…])``)
# and ids of other families get 404 NOT_FOUND.
_FAMILY = re.compile(r"(gemini|gemma)-[a-z0-9.-]+")


def _known(model: str, request: web.Request | None = None) -> bool:
    if request is not None and model in state_of(request).unknown_models.get(NAME, ()):
        return False
    return model in MODELS or _FAMILY.fullmatch(model) is not None or _embedder(model) is not None


def _embedder(model: str) -> tuple[int, int] | None:
    """(inputTokenLimit, vector size) of an embedding model, ``None`` for any other id."""
    if model in EMBEDDING_MODELS:
        return EMBEDDING_MODELS[model]
    return EMBEDDING_MODELS["gemini-embedding-001"] if _EMBEDDING_FAMILY.fullmatch(model) else None


def _not_found(model: str, version: str, method: str = "generateContent") -> web.Response:
    return _error(404, f"models/{model} is not found for API version {version}, or is not supported for "
                  f"{method}. Call ListModels to see the list of available models and their supported methods.")


class _Prepared(NamedTuple):
    """What a valid generateContent body alone determines (see :func:`_prepare`)."""

    body: dict[str, Any]
    prompt_tokens: int
    decision: tuple[Decision, bool]
    """The rule's answer — used only when no answer is scripted."""
    response_id: str
    segments: list[Segment]


# Memo of _prepare by (API version, raw body) for bodies that passed validation: a load run (and
# most tests) repeats a handful of bodies, and walking, counting and deciding again per request
# made the fake, not the client, the bottleneck. Bounded; what it keeps is only read, never written.
_PREPARED: dict[tuple[str, bytes], _Prepared] = {}
_PREPARED_MAX = 1024
_FRAMES: dict[tuple[tuple[str, bytes], str, int], list[bytes]] = {}
_FRAMES_MAX = 256


def _prepare(body: dict[str, Any]) -> _Prepared:
    token = SCRIPTED.set(None)
    try:
        decision = _decision(body)
    finally:
        SCRIPTED.reset(token)
    return _Prepared(body, _prompt_tokens(body), decision, stable_id(body, n=22), _segments(body))


@endpoint("chat")
async def model_method(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    version = request.match_info["version"]
    model, _, method = request.match_info["target"].partition(":")
    if method not in ("generateContent", "streamGenerateContent", "countTokens"):
        return _error(404, f"Method not found: {method or '(none)'}.")
    body = call.json
    if method == "countTokens":
        refused = _validate(body, counting=True, version=version) if isinstance(body, dict) else None
        if refused is not None:
            return refused
        if isinstance(_get(body, "generateContentRequest"), dict):
            body = _get(body, "generateContentRequest")
    key = (version, call.raw)
    prep = _PREPARED.get(key) if method != "countTokens" else None
    if prep is None:
        invalid = _validate(body, counting=method == "countTokens", version=version)
        if invalid is not None:
            return invalid
        if method != "countTokens":
            prep = remember(_PREPARED, key, _prepare(body), bound=_PREPARED_MAX)
    if not _known(model, request) or (method != "countTokens" and _embedder(model) is not None):
        return _not_found(model, version, method)  # an embedding model does not generate
    if prep is None:  # countTokens
        prompt_tokens = _prompt_tokens(body)
        return await send_json(request, {"totalTokens": prompt_tokens, "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": prompt_tokens}]}, fault)
    body, prompt_tokens = prep.body, prep.prompt_tokens
    limit = MODELS.get(model, (1_048_576, 0, False))[0]
    if prompt_tokens > limit:
        return _error(400, f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens "
                      f"allowed ({limit}).")
    # A scripted answer replaces the rule for this request only, so it is never memoised.
    d, thinking = prep.decision if SCRIPTED.get() is None else _decision(body)
    response_id = prep.response_id
    # cache: marked edit. "Implicit caching is enabled by default for all Gemini 2.5 models … The
    # minimum input token count for context caching is 1,024 for 2.5 Flash and 4,096 for 2.5 Pro."
    minimum = 4096 if "-pro" in model else 1024
    cached = min(prompt_cache(request).automatic(NAME, model, prep.segments, minimum), prompt_tokens)
    if method == "generateContent":
        return await send_json(request, generate_payload(model, d, prompt_tokens, response_id, thinking=thinking,
                                                         cached=cached), fault)
    # The events of an unscripted answer are a function of the body, the model and the cached count:
    # built once per (version, body, model, cached) instead of one JSON encoding per event per request.
    fkey = None if SCRIPTED.get() is not None else (key, model, cached)
    frames = _FRAMES.get(fkey) if fkey else None
    if frames is None:
        frames = stream_frames(model, d, prompt_tokens, response_id, thinking=thinking, cached=cached)
        if fkey:
            remember(_FRAMES, fkey, frames, bound=_FRAMES_MAX)
    if request.query.get("alt") != "sse":
        # Without alt=sse the API streams one JSON array of the same response objects.
        objs = [f[len(b"data: "):].strip() for f in frames]
        frames = [b"[" + objs[0]] + [b",\r\n" + o for o in objs[1:]] + [b"]"]
        return await send_stream(request, frames, content_type=_CONTENT_TYPE, fault=fault,
                                 error_frame=stream_error_frame)
    return await send_stream(request, frames, content_type="text/event-stream", fault=fault,
                             error_frame=stream_error_frame)


# -- embedContent / batchEmbedContents ---------------------------------------------------------------
# ai.google.dev/api/embeddings: EmbedContentRequest {model, content, taskType, title,
# outputDimensionality} → {"embedding": {"values": […]}}; BatchEmbedContentsRequest {requests: [
# EmbedContentRequest]} → {"embeddings": [{"values": […]}, …]}, in the requests' order. google-genai's
# ``models.embed_content`` calls ``:batchEmbedContents`` on the Gemini Developer API (models.py,
# ``_embed_content``: every content a request with ``model`` and the config's fields).

_TASK_TYPES = ("TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
               "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY")
_EMBED_REQUEST = {"model": str, "content": _CONTENT, "taskType": str, "title": str, "outputDimensionality": int}
_BATCH_EMBED = {"model": str, "requests": [_EMBED_REQUEST]}
_EMBED_BATCH_MAX = 100


def _whole(value: Any) -> Any:
    """An int32 field's value as an int: proto3 JSON takes an integral number written as a float
    (``2.0``) or as a string (``"2"``, ``"1e2"``); the shape check has refused anything else."""
    return value if value is None else proto_number(value, integral=True)


def _embed_one(req: dict[str, Any], at: str, where: str, model: str, size: int,
               version: str) -> list[float] | web.Response:
    """One EmbedContentRequest's vector, or Google's 400 for it (``at``: its proto path, ``where``: the
    request type and path Google names in a semantic error)."""
    task = _get(req, "taskType")
    if task is not None and task not in _TASK_TYPES:
        field = f"{at}task_type"
        return _bad_request(f"Invalid value at '{field}' (type.googleapis.com/google.ai.generativelanguage."
                            f"{version}.TaskType), {json.dumps(task)}", field)
    content = req.get("content")
    if not isinstance(content, dict):
        return _error(400, f"* {where}.content: content is not specified\n")
    parts = content.get("parts") or []
    if not parts or any(not isinstance(p, dict) or not _get(p, "text") for p in parts):
        # as reported from the service ("EmbedContentRequest.content contains an empty Part.")
        return _error(400, "EmbedContentRequest.content contains an empty Part.")
    dims = _whole(_get(req, "outputDimensionality"))
    if isinstance(dims, int) and dims < 0:
        return _error(400, _STATUS[400][1])
    # "the 3072 dimension embedding is normalized"; a shorter one is its leading part, not normalised
    # again (the embeddings guide: normalise it yourself).
    values = vector(model, _texts(content), size, dims or None, renormalise=False)
    return wire_floats(values)


@endpoint("embeddings")
async def embed(call: Call) -> web.StreamResponse:
    """``POST /{version}/models/{model}:embedContent`` and ``:batchEmbedContents``."""
    request = call.request
    version, model = request.match_info["version"], request.match_info["model"]
    batch = request.path.endswith(":batchEmbedContents")
    method = "batchEmbedContents" if batch else "embedContent"
    body = call.json
    if not isinstance(body, dict):
        return _error(400, "Invalid JSON payload received. Unexpected token.")
    refused = _shape_refusal(body, _BATCH_EMBED if batch else _EMBED_REQUEST)
    if refused is not None:
        return refused
    embedder = _embedder(model)
    if embedder is None or not _known(model, request):
        return _not_found(model, version, method)  # a generateContent model does not embed
    size = embedder[1]
    if not batch:
        one = _embed_one(body, "", "EmbedContentRequest", model, size, version)
        if isinstance(one, web.Response):
            return one
        return await send_json(request, {"embedding": {"values": one}}, call.fault)
    reqs = body.get("requests")
    if not reqs:
        return _error(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
    if len(reqs) > _EMBED_BATCH_MAX:
        # the documented-by-users limit (langchain-ai/langchainjs#4491 quotes this 400)
        return _error(400, f"* BatchEmbedContentsRequest.requests: at most {_EMBED_BATCH_MAX} requests can be in "
                      "one batch\n")
    out = []
    for i, req in enumerate(reqs):
        one = _embed_one(req, f"requests[{i}].", f"BatchEmbedContentsRequest.requests[{i}]", model, size, version)
        if isinstance(one, web.Response):
            return one
        out.append({"values": one})
    return await send_json(request, {"embeddings": out}, call.fault)


def _model_info(model: str, version: str) -> dict[str, Any]:
    embedder = _embedder(model)
    if embedder is not None:
        # ListModels' entries for the embedding models: outputTokenLimit 1, embedContent among the methods
        methods = ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"]
        return {"name": f"models/{model}", "version": model.rsplit("-", 1)[-1],
                "displayName": model.replace("-", " ").title(), "description": "Obtain a distributed "
                "representation of a text.", "inputTokenLimit": embedder[0], "outputTokenLimit": 1,
                "supportedGenerationMethods": methods}
    limit_in, limit_out, thinking = MODELS.get(model, (1_048_576, 65_536, model.startswith("gemini-2.5")))
    info: dict[str, Any] = {
        "name": f"models/{model}", "version": "001", "displayName": model.replace("-", " ").title(),
        "description": f"Fake {model}", "inputTokenLimit": limit_in, "outputTokenLimit": limit_out,
        "supportedGenerationMethods": list(_METHODS), "temperature": 1, "topP": 0.95, "topK": 64,
        "maxTemperature": 2,
    }
    if thinking:
        info["thinking"] = True
    return info


@endpoint("models", content=False)
async def list_models(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    version = _version(request)
    return await send_json(request, {"models": [_model_info(m, version) for m in (*MODELS, *EMBEDDING_MODELS)]},
                           fault)


@endpoint("models", content=False)
async def get_model(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    version, model = _version(request), request.match_info["model"]
    if not _known(model, request):
        return _error(404, f"models/{model} is not found for API version {version}.")
    return await send_json(request, _model_info(model, version), fault)


def _version(request: web.Request) -> str:
    """The API version segment of the path (``v1beta`` or ``v1``)."""
    return request.path.split("/", 2)[1]


def add_routes(app: web.Application) -> None:
    install(app)  # prompt-cache memory, one per server (cache: marked edit)
    # The docs use v1beta; google-genai's default is GOOGLE_AI_API_DEFAULT_VERSION in its _api_client
    # (v1beta in older releases, v1 in 3.x). Both are served, each with its own request schema.
    from ._batch import (
        add_gemini_routes,  # hook: batch (first: models/{target} would take :batchGenerateContent)
    )

    add_gemini_routes(app)
    for version in ("v1beta", "v1"):  # before models/{target}, which would take them
        app.router.add_post(f"/{{version:{version}}}/models/{{model}}:embedContent", embed)
        app.router.add_post(f"/{{version:{version}}}/models/{{model}}:batchEmbedContents", embed)
    for version in ("v1beta", "v1"):
        app.router.add_post(f"/{{version:{version}}}/models/{{target}}", model_method)
        app.router.add_get(f"/{version}/models", list_models)
        app.router.add_get(f"/{version}/models/{{model}}", get_model)


def not_found(request: web.Request) -> web.Response:
    # Google's front end answers an unknown path with its HTML 404 page.
    page = ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
            f"  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>{request.path}</code> "
            "was not found on this server.  <ins>That\u2019s all we know.</ins>\n")
    return web.Response(status=404, text=page, content_type="text/html", charset="UTF-8")


SPEC = FakeSpec(
    name=NAME,
    base_path="",
    add_routes=add_routes,
    error_response=error_response,
    stream_error_frame=stream_error_frame,
    default_status_message=lambda status: _STATUS.get(status, ("UNKNOWN", f"fake error {status}"))[1],
    auth=lambda request, raw: _auth(request),
    not_found=not_found,
    server="scaffolding on HTTPServer2",  # Google's API front end, on answers and its 404 pages alike
)

"""Docker Model Runner's OpenAI-compatible Chat Completions and text completions: DMR's scheduler in front
of llama.cpp's ``llama-server``, not OpenAI's service under DMR's name. Also the pieces every DMR inference
route shares: the scheduler's checks (:func:`dmr_problem`, through :func:`scheduler_route`), the runner's
model reference normalisation (:func:`normalize_ref`, ``pkg/distribution/distribution/client.go``
``normalizeModelName`` and the store's ``reference.ParseReference``), llama.cpp's JSON and stream writers.
Text completions: see :func:`completions_params` and :func:`text_completion` (``tools/server/server-common.cpp``
``oaicompat_completion_params_parse``, ``tokenize_input_prompts``; ``server-task.cpp``
``server_task_result_cmpl_final::to_json_oaicompat``, ``server_task_result_cmpl_partial::to_json_oaicompat``;
``server-context.cpp`` ``send_final_response`` (a stream's final text is ``""``), ``gen_chatcmplid``).

Written from docker/model-runner (``pkg/routing/router.go`` ``NewRouter``, ``pkg/middleware/alias.go``
``AliasHandler``, ``pkg/inference/scheduling/http_handler.go`` ``routeHandlers`` and
``handleOpenAIInference``, ``pkg/inference/scheduling/api.go``, ``scheduling/runner.go`` (the reverse
proxy), ``pkg/inference/models/manager.go`` ``GetLocal``, ``pkg/distribution/distribution/client.go``
``GetModel``, ``pkg/distribution/internal/bundle/unpack.go`` ``unpackGGUFs``,
``pkg/inference/backends/llamacpp/download.go`` (the pinned ``b9879``) and ``llamacpp_config.go``
``GetArgs``) and from llama.cpp's server (``tools/server/server-common.cpp``
``oaicompat_chat_params_parse``, ``format_error_response``, ``random_string``/``gen_chatcmplid``/
``gen_tool_call_id``, ``format_oai_sse``; ``common/chat.cpp`` ``common_chat_msgs_parse_oaicompat``,
``common_chat_tools_parse_oaicompat``, ``common_chat_tool_choice_parse_oaicompat``,
``common_chat_msg::to_json_oaicompat``, ``common_chat_msg_diff_to_json_oaicompat``;
``tools/server/server-task.cpp`` ``to_json_oaicompat_chat``, ``to_json_oaicompat_chat_stream``,
``server_task_result_cmpl_partial::to_json_oaicompat_chat``, ``usage_json_oaicompat``,
``result_timings::to_json``, ``params_from_json_cmpl``; ``tools/server/server-http.cpp`` (headers,
404, streams); ``tools/server/server.cpp`` ``ex_wrapper``).

What comes back, in order of who answers:

* **DMR's router** (Go). ``POST /engines/v1/chat/completions``, ``POST /engines/{backend}/v1/chat/completions``
  and the ``/v1/...`` alias (``AliasHandler`` prepends ``/engines``). A path under ``/engines/`` or ``/v1/``
  the scheduler does not route — or a route with another method, which only the scheduler's ``/``
  catch-all matches — is 404 ``not found``; a path outside every prefix is ServeMux's 404 ``404 page not
  found``. Both are ``http.Error`` text: ``text/plain; charset=utf-8``, ``X-Content-Type-Options: nosniff``,
  a newline, no ``Server`` header.
* **DMR's checks before proxying** (``handleOpenAIInference``, plain text): a backend other than
  ``llama.cpp`` (the one backend every install registers) → 404 ``backend not found``; a body over
  10 MiB → 400 ``request too large``; a body Go cannot read into ``{"model": string}`` (not JSON, not an
  object, a non-string ``model``) → 400 ``invalid request``; no or empty ``model`` → 400 ``model is
  required``; a model not pulled → 404 ``error while getting model: get model '"<ref>"': model not
  found`` (``GetLocal`` wrapping ``GetModel`` wrapping the store's ``ErrModelNotFound``).
* **llama.cpp** (relayed by ``httputil.ReverseProxy``, which drops hop-by-hop headers and the
  ``Access-Control-Allow-Origin`` llama.cpp sets): ``Server: llama.cpp``; ``application/json;
  charset=utf-8`` bodies written by nlohmann's ``ordered_json`` (compact, UTF-8 unescaped, fields in
  the order the source builds them, no trailing newline); no ``x-ratelimit-*``, ``x-request-id`` or
  ``openai-processing-ms``.

  The completion: ``choices`` (``finish_reason``, ``index``, ``message``), ``created``, ``model``,
  ``system_fingerprint``, ``object``, ``usage``, ``id``, ``timings``. ``id`` is ``chatcmpl-`` and 32
  random alphanumerics; ``model`` is what llama-server names its model — DMR passes no ``--alias``, so the
  GGUF's file name, ``model.gguf`` (``unpackGGUFs``), not the requested id; ``system_fingerprint`` is the
  build info, ``b9879-<commit>``. The message is ``role``, ``content`` (``""`` beside tool calls, never
  null), ``reasoning_content`` (a thinking model), ``tool_calls`` (``type``, ``function`` with ``name``
  and ``arguments`` text, ``id``: 32 random alphanumerics); no ``refusal``, ``annotations``, ``logprobs``
  or ``service_tier``. ``finish_reason`` is ``stop``, ``length`` or ``tool_calls``. ``usage`` is
  ``completion_tokens``, ``prompt_tokens``, ``total_tokens``, ``prompt_tokens_details.cached_tokens``
  (reported 0: the fake keeps no KV cache); ``completion_tokens`` counts the thinking too. ``timings``
  is ``cache_n``, ``prompt_n``, ``prompt_ms``, ``prompt_per_token_ms``, ``prompt_per_second``,
  ``predicted_n``, ``predicted_ms``, ``predicted_per_token_ms``, ``predicted_per_second``.

  The stream (``text/event-stream``, ``X-Accel-Buffering: no``, no ``Cache-Control``): ``data: <chunk>``
  frames whose fields are ``choices`` (``finish_reason``, ``index``, ``delta``), ``created``, ``id``,
  ``model``, ``system_fingerprint``, ``object``; the first delta is ``{"role": "assistant", "content":
  null}``, then one chunk per piece — ``reasoning_content``, then ``content``, or a tool call as a
  header (``index``, ``id``, ``type``, ``function.name``) and ``function.arguments`` pieces —; a finish
  chunk with an empty delta; with ``stream_options.include_usage`` a chunk with ``choices: []`` and the
  usage; ``timings`` on the last of those; ``data: [DONE]``. A failure after the first chunk is
  ``data: {"error": {"code", "message", "type"}}`` and the stream ends without ``[DONE]``.

  What llama.cpp reads: ``tool_choice`` only as a string (``auto``/``none``/``required``; an object —
  OpenAI's named function — fails ``json_value``'s type and counts as ``auto``), ``stop`` (a string or
  strings), ``n_predict`` > ``max_completion_tokens`` > ``max_tokens`` (negative: no limit),
  ``response_format`` ``text``/``json_object``/``json_schema``, ``chat_template_kwargs.enable_thinking``;
  no ranges are checked (``temperature: 7``, ``top_p: 3`` and a wrongly typed sampling value are taken
  — the last as the default). Its refusals are ``{"error": {"code", "message", "type"}}``: 400
  ``invalid_request_error`` for what it throws as ``invalid_argument`` (``'messages' is required``,
  ``Expected 'messages' to be an array``, ``All non-assistant messages must contain 'content'``,
  ``Assistant message must contain either 'content' or 'tool_calls'!``, ``Expected 'content' to be a
  string or an array``, ``unsupported content[].type``, ``response_format type must be …``, ``Invalid
  tool_choice: …``, ``top_logprobs requires logprobs to be set to true``, ``n_cmpl cannot be greater
  than the number of slots …``), 500 ``server_error`` for any other exception (``Failed to parse
  messages: …``, ``Failed to parse tools: …``, ``image input is not supported …``, ``Cannot use both
  json_schema and grammar``).

The answer itself — the text, the tool call and the counts — is the fakes' shared rule
(:mod:`._content` through :func:`.openai._decision`), so interlingua's tests and benchmarks get the
same ``Fake reply: …`` as before. ``ai/qwen3`` (a thinking template) thinks unless
``chat_template_kwargs.enable_thinking`` is false. Status faults answer in llama.cpp's shape.
"""

from __future__ import annotations

import json
import random
import re
import string
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._content import count_tokens, split_for_stream, stable_id
from ._faults import Fault
from ._jsonenc import compact_utf8
from ._server import open_request, send_json, send_stream, state_of
from .openai import _decision

__all__ = ["BUILD_INFO", "CONTEXT_EXCEEDED", "MODEL_FILE", "PREFIXES", "add_routes", "dmr_problem", "go_error", "llama_error", "normalize_ref",
           "not_found", "pulled", "scheduler_route"]

NAME = "docker"
ENDPOINT = "chat"
# download.go pinnedServerVersion; the commit half of llama_build_info() is not in DMR's source
# ("unknown" is what llama.cpp's CMake writes when it cannot read git).
BUILD_INFO = "b9879-unknown"
# unpackGGUFs: a single-file model is unpacked as model.gguf, which llama-server names its model.
MODEL_FILE = "model.gguf"
BACKENDS = frozenset({"llama.cpp"})
# routeHandlers' inference prefixes, and AliasHandler's /v1 (which prepends /engines to the whole path)
PREFIXES = ("/engines/v1", "/engines/{backend}/v1", "/v1", "/v1/{backend}/v1")
_MAX_BODY = 10 * 1024 * 1024  # scheduling/api.go maximumOpenAIInferenceRequestSize
_SLOTS = 4  # llama-server's automatic --parallel when DMR passes none
_THINKING_MODELS = frozenset({"ai/qwen3"})
_ALNUM = string.digits + string.ascii_uppercase + string.ascii_lowercase  # random_string()'s alphabet
JSON_TYPE = "application/json; charset=utf-8"
LLAMA_HEADERS = {"Server": "llama.cpp"}


# -- DMR (Go) -----------------------------------------------------------------------------------------


def go_error(status: int, text: str) -> web.Response:
    """Go's ``http.Error``: the text and a newline, as plain text, ``nosniff`` (and, as every answer of a Go
    server, no ``Server``: the fake's spec names none)."""
    return web.Response(status=status, body=(text + "\n").encode(),
                        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"})


_SCHEDULER_PREFIXES = ("/engines/", "/v1/")


def not_found(request: web.Request) -> web.Response:
    """The runner's answer to a path (or a method) nothing serves: the scheduler's ``/`` catch-all under
    ``/engines/`` (and the ``/v1/``, ``/rerank``, ``/score`` aliases), ServeMux's own 404 elsewhere."""
    path = request.path
    if path.startswith(_SCHEDULER_PREFIXES) or path in ("/rerank", "/score"):
        return go_error(404, "not found")
    return go_error(404, "404 page not found")


def _sanitize(s: str) -> str:
    """``utils.SanitizeForLog`` with its default 100-byte cut."""
    out = []
    for ch in s:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\\":
            out.append("\\\\")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append("?")
    text = "".join(out)
    raw = text.encode()
    return raw[:100].decode("utf-8", "replace") + "...[truncated]" if len(raw) > 100 else text


def _go_quote(s: str) -> str:
    """Go's ``%q`` (``strconv.Quote``) of a sanitised reference."""
    return '"' + json.dumps(s, ensure_ascii=False)[1:-1].replace("\\u007f", "\\x7f") + '"'


def model_of(raw: bytes) -> str | None:
    """``json.Unmarshal`` into ``OpenAIInferenceRequest``: the ``model`` (matched case-insensitively, the
    last match winning), ``""`` when absent or null, ``None`` when Go refuses the body."""

    def no_constants(name: str) -> Any:
        raise ValueError(name)  # NaN/Infinity: not JSON to Go

    try:
        body = json.loads(raw, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return None
    if body is None:
        return ""
    if not isinstance(body, dict):
        return None
    model: str = ""
    for key, value in body.items():
        if key.lower() == "model":
            if isinstance(value, str):
                model = value
            elif value is not None:
                return None
    return model


# -- model references (pkg/distribution) -------------------------------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?")
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_HEX64 = re.compile(r"(?:sha256:)?[0-9a-f]{64}")
_PULLED = re.compile(rf"ai/{_COMPONENT}")  # the fake's local store: every ai/ model, any tag


def _go_trim_space(s: str) -> str:
    """``strings.TrimSpace``: Unicode white space, as Python's ``str.strip()`` takes it (near enough)."""
    return s.strip()


def normalize_ref(ref: str) -> str | None:
    """The reference the runner's store looks a model up by: ``Client.normalizeModelName`` (trim, ``hf.co/`` →
    ``huggingface.co/``, the default org ``ai/`` for a bare name, the default tag ``latest``, the name lowered,
    the tag as is), then the store's ``reference.ParseReference`` with the default org (docker/distribution's
    ``ParseNormalizedNamed``: ``docker.io``/``index.docker.io`` are Docker Hub, ``library/`` becomes
    ``ai/``). ``ai/smollm2``, ``smollm2``, ``SmolLM2``, ``ai/smollm2:latest``, ``docker.io/ai/smollm2`` and
    ``index.docker.io/smollm2`` are all ``ai/smollm2:latest``; another registry keeps its name
    (``huggingface.co/org/model:latest``). ``None``: no store entry can match (not a reference, a full
    64-hex ID or digest — the fake keeps no IDs)."""
    model = _go_trim_space(ref)
    if not model:
        return None
    if model.startswith("hf.co/"):
        model = "huggingface.co/" + model[len("hf.co/"):]
    if _HEX64.fullmatch(model):
        return None  # resolveID finds no model with that ID; ParseNormalizedNamed refuses 64 hex digits
    last_slash, last_colon = model.rfind("/"), model.rfind(":")
    name, tag = model, "latest"
    if last_colon > last_slash:
        name, tag = model[:last_colon], model[last_colon + 1:] or "latest"
    first = name.find("/")
    if not (first > 0 and "." in name[:first]) and "/" not in name:
        name = "ai/" + name
    name = name.lower()
    # ParseReference(name:tag): the registry, the org, the path and tag grammars
    first = name.find("/")
    head = name[:first] if first > 0 else ""
    explicit_registry = bool(head) and ("." in head or ":" in head or head == "localhost")
    domain, path = (head, name[first + 1:]) if explicit_registry else ("docker.io", name)
    if explicit_registry and not _DOMAIN.fullmatch(domain):
        return None
    if domain == "index.docker.io":
        domain = "docker.io"
    if not _PATH.fullmatch(path) or not _TAG.fullmatch(tag) or len(name) > 255:
        return None
    if domain == "docker.io" and "/" not in path:
        path = "ai/" + path  # ParseNormalizedNamed's library/, which the runner's default org replaces
    return (path if domain == "docker.io" else domain + "/" + path) + ":" + tag


def model_name(model: str) -> str:
    """The repository a request's model names (``ai/qwen3`` for ``qwen3:8B-Q4_K_M``), for per-model facts."""
    ref = normalize_ref(model)
    return ref.rpartition(":")[0] if ref else model


def pulled(request: web.Request, model: str) -> bool:
    """``GetLocal``: whether the runner's store has the model (the fake's store: every ``ai/`` model but those a
    test marked unknown, matched as the store matches them, after normalisation)."""
    ref = normalize_ref(model)
    if ref is None or not _PULLED.fullmatch(ref.rpartition(":")[0]):
        return False
    return not any(normalize_ref(u) == ref for u in state_of(request).unknown_models.get(NAME, ()))


def not_pulled(model: str) -> str:
    """``GetLocal``'s error wrapping ``GetModel``'s and the store's ``ErrModelNotFound``."""
    return f"error while getting model: get model '{_go_quote(_sanitize(model))}': model not found"


def dmr_problem(request: web.Request, raw: bytes) -> tuple[web.Response | None, str]:
    """``handleOpenAIInference`` before it proxies (every inference route: chat, completions, embeddings,
    Anthropic messages and count_tokens): the backend, the body's size and model, the model's presence in
    the local store. Returns (DMR's refusal or ``None``, the model)."""
    backend = request.match_info.get("backend")
    if backend is not None and backend not in BACKENDS:
        return go_error(404, "backend not found"), ""
    if len(raw) > _MAX_BODY:
        return go_error(400, "request too large"), ""
    model = model_of(raw)
    if model is None:
        return go_error(400, "invalid request"), ""
    if model == "":
        return go_error(400, "model is required"), ""
    if not pulled(request, model):
        return go_error(404, not_pulled(model)), model
    return None, model


Answer = Callable[[web.Request, bytes, dict[str, Any], str, Fault | None], Awaitable[web.StreamResponse]]


def scheduler_route(endpoint: str, answer: Answer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A route ``routeHandlers`` sends to ``handleOpenAIInference``: record the request, apply a fault (in
    llama.cpp's shape: it comes from the engine), DMR's checks (:func:`dmr_problem`), then llama.cpp's
    ``answer(request, raw, body, model, fault)``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        raw, fault, early = await open_request(request, endpoint, None, error_response=fault_response)
        if early is not None:
            return early
        refused, model = dmr_problem(request, raw)
        if refused is not None:
            return refused
        body = json.loads(raw)  # Go read it; nlohmann reads the same text
        if not isinstance(body, dict):
            body = {}  # null: Go's model is "" and was refused above
        return await answer(request, raw, body, model, fault)

    return handler


# -- llama.cpp -------------------------------------------------------------------------------------------

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
          500: "server_error", 501: "not_supported_error", 503: "unavailable_error"}


def _dump(obj: Any) -> str:
    """nlohmann's ``dump()``: compact, UTF-8 as is."""
    return compact_utf8(obj).decode()


def llama_error(status: int, message: str, type_: str | None = None, headers: dict[str, str] | None = None,
                **extra: Any) -> web.Response:
    """``format_error_response`` under ``"error"``, as llama-server writes it."""
    type_ = type_ or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"code": status, "message": message, "type": type_, **extra}}
    return web.Response(status=status, body=compact_utf8(body),
                        headers={"Content-Type": JSON_TYPE, **LLAMA_HEADERS, **(headers or {})})


def fault_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """A status fault on this route, in llama.cpp's shape (503 is its own ``Loading model``)."""
    headers = {"Retry-After": fault.retry_after or "1"} if status == 429 and fault else None
    text = {429: "Too many requests", 503: "Loading model", 500: "Internal server error"}.get(status, message)
    return llama_error(status, text, headers=headers)


class _Refusal(Exception):
    """What llama.cpp throws: ``invalid_argument`` (400) or anything else (500)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _jv(body: Any, key: str, kinds: type | tuple[type, ...], default: Any) -> Any:
    """``json_value``: the value when present, not null and of the wanted type, else the default."""
    if not isinstance(body, dict) or body.get(key) is None:
        return default
    v = body[key]
    if isinstance(v, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        return default
    return v if isinstance(v, kinds) else default


def _parse_messages(messages: list[Any]) -> None:
    """``common_chat_msgs_parse_oaicompat``'s refusals (runtime errors: 500)."""
    try:
        for m in messages:
            if not isinstance(m, dict):
                raise ValueError(f"Expected 'message' to be an object, got {_dump(m)}")
            if "role" not in m:
                raise ValueError(f"Missing 'role' in message: {_dump(m)}")
            if not isinstance(m["role"], str):
                raise ValueError(f"[json.exception.type_error.302] type must be string, but is {_kind(m['role'])}")
            content = m.get("content")
            if isinstance(content, list):
                for part in content:
                    if part.get("type") in ("image_url", "input_audio"):
                        continue  # already a media marker with its text
                    if "text" not in part:
                        raise ValueError("[json.exception.out_of_range.403] key 'text' not found")
                    if not isinstance(part["text"], str):
                        raise ValueError(f"[json.exception.type_error.302] type must be string, but is {_kind(part['text'])}")
            calls = m.get("tool_calls")  # nlohmann iterates an object's values, a primitive as itself, null as nothing
            for tc in calls if isinstance(calls, list) else calls.values() if isinstance(calls, dict) else \
                    () if calls is None else (calls,):
                if not isinstance(tc, dict) or "type" not in tc:
                    raise ValueError(f"Missing tool call type: {_dump(tc)}")
                if tc["type"] != "function":
                    raise ValueError(f"Unsupported tool call type: {_dump(tc)}")
                if "function" not in tc:
                    raise ValueError(f"Missing tool call function: {_dump(tc)}")
                fc = tc["function"]
                if not isinstance(fc, dict) or "name" not in fc:
                    raise ValueError(f"Missing tool call name: {_dump(tc)}")
                if "arguments" not in fc:
                    raise ValueError("[json.exception.out_of_range.403] key 'arguments' not found")
            if "content" not in m and "tool_calls" not in m:
                raise ValueError("Expected 'content' or 'tool_calls' (ref: https://github.com/ggml-org/llama.cpp/issues/8367 "
                                 "& https://github.com/ggml-org/llama.cpp/issues/12279)")
    except ValueError as e:
        raise _Refusal(f"Failed to parse messages: {e}", 500) from None


def _kind(v: Any) -> str:
    """nlohmann's ``type_name()``."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _parse_tools(tools: Any) -> list[dict[str, Any]]:
    """``common_chat_tools_parse_oaicompat`` (its refusals are runtime errors: 500)."""
    if tools is None:
        return []
    try:
        if not isinstance(tools, list):
            raise ValueError(f"Expected 'tools' to be an array, got {_dump(tools)}")
        for t in tools:
            if not isinstance(t, dict) or "type" not in t:
                raise ValueError(f"Missing tool type: {_dump(t)}")
            if t["type"] != "function":
                raise ValueError(f"Unsupported tool type: {_dump(t)}")
            if "function" not in t:
                raise ValueError(f"Missing tool function: {_dump(t)}")
            fn = t["function"]
            if not isinstance(fn, dict) or "name" not in fn:
                raise ValueError("[json.exception.out_of_range.403] key 'name' not found")
            if not isinstance(fn["name"], str):
                raise ValueError(f"[json.exception.type_error.302] type must be string, but is {_kind(fn['name'])}")
    except ValueError as e:
        raise _Refusal(f"Failed to parse tools: {e}; tools = {json.dumps(tools, indent=2, ensure_ascii=False)}",
                       500) from None
    return list(tools)


_DATA_URL = re.compile(r"data:image/[^,]*base64")


def _check_media(part: dict[str, Any], vision: bool) -> None:
    """``oaicompat_chat_params_parse``'s content parts and ``handle_media``."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "image_url":
        if not vision:
            raise _Refusal("image input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
                           500)
        image = part.get("image_url")
        url = image.get("url", "") if isinstance(image, dict) else ""
        url = url if isinstance(url, str) else ""
        if url.startswith("http"):
            return  # downloaded by the server
        if url.startswith("file://"):
            raise _Refusal("file:// URLs are not allowed unless --media-path is specified")
        pieces = url.split(",")
        if len(pieces) != 2:
            raise _Refusal("Invalid url value", 500)
        if not pieces[0].startswith("data:image/"):
            raise _Refusal("Invalid url format: " + pieces[0], 500)
        if not pieces[0].endswith("base64"):
            raise _Refusal("url must be base64 encoded", 500)
    elif kind == "input_audio":
        raise _Refusal("audio input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
                       500)
    elif kind != "text":
        raise _Refusal("unsupported content[].type")


def chat_params(body: dict[str, Any], vision: bool) -> dict[str, Any]:
    """``oaicompat_chat_params_parse`` and the part of ``params_from_json_cmpl`` that refuses: the request
    as the fakes' shared rule reads it (``messages``, ``tools``, a string ``tool_choice``, ``stop``,
    ``response_format``, ``max_tokens``), or :class:`_Refusal`."""
    tools = body.get("tools")
    tool_choice = _jv(body, "tool_choice", str, "auto")
    stream = _jv(body, "stream", bool, False)
    if body.get("json_schema") is not None and _jv(body, "grammar", str, ""):
        raise _Refusal("Cannot use both json_schema and grammar", 500)
    rf = _jv(body, "response_format", dict, {}) if "response_format" in body else None
    if rf is not None:
        kind = _jv(rf, "type", str, "")
        if kind not in ("", "text", "json_object", "json_schema"):
            raise _Refusal('response_format type must be one of "text" or "json_object", but got: ' + kind)
    if "messages" not in body:
        raise _Refusal("'messages' is required")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _Refusal("Expected 'messages' to be an array")
    for m in messages:
        role = _jv(m, "role", str, "")
        has = isinstance(m, dict) and "content" in m
        if role != "assistant" and not has:
            raise _Refusal("All non-assistant messages must contain 'content'")
        if role == "assistant" and not has:
            if not (isinstance(m, dict) and "tool_calls" in m):
                raise _Refusal("Assistant message must contain either 'content' or 'tool_calls'!")
            continue
        content = m["content"]
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _Refusal("Expected 'content' to be a string or an array")
        for part in content:
            _check_media(part, vision)
    _parse_messages(messages)
    function_tools = _parse_tools(tools)
    if tool_choice not in ("auto", "none", "required"):
        raise _Refusal("Invalid tool_choice: " + tool_choice)
    if function_tools and tool_choice != "none" and "grammar" in body:
        raise _Refusal("Cannot use custom grammar constraints with tools.")
    kwargs = _jv(body, "chat_template_kwargs", dict, {})
    thinking = kwargs.get("enable_thinking")
    if isinstance(thinking, str):
        raise _Refusal('invalid type for "enable_thinking" (expected boolean, got string)')
    if _jv(body, "logprobs", bool, False):
        if function_tools and stream:
            raise _Refusal("logprobs is not supported with tools + stream")
    elif body.get("top_logprobs") is not None:
        raise _Refusal("top_logprobs requires logprobs to be set to true")
    return {"messages": messages, "tools": function_tools, "tool_choice": tool_choice, "stop": _stops(body),
            "response_format": rf or {}, "stream": stream, "thinking": thinking is not False, **_cmpl_params(body)}


def _stops(body: dict[str, Any]) -> list[str]:
    """``stop``: a string or strings (``oaicompat_*_params_parse``)."""
    stop = body.get("stop")
    return [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str) and s] if isinstance(stop, list) else []


def _cmpl_params(body: dict[str, Any]) -> dict[str, Any]:
    """``params_from_json_cmpl``, shared by every completion route: its throws (invalid requests) and the
    counts it reads."""
    n = _jv(body, "n_cmpl", int, _jv(body, "n", int, 1))
    if n > _SLOTS:
        raise _Refusal("n_cmpl cannot be greater than the number of slots, please increase -np")
    for key in ("repeat_last_n", "dry_penalty_last_n"):
        if _jv(body, key, (int, float), 0) < -1:
            raise _Refusal(f"Error: {key} must be >= -1")
    if "lora" in body and not isinstance(body["lora"], list):
        raise _Refusal("Error: 'lora' must be an array of objects with 'id' and 'scale' fields")
    limit = _jv(body, "n_predict", (int, float), _jv(body, "max_completion_tokens", (int, float),
                                                     _jv(body, "max_tokens", (int, float), -1)))
    return {"max_tokens": int(limit) if limit >= 0 else None, "n": max(1, n),
            "include_usage": bool(_jv(_jv(body, "stream_options", dict, {}), "include_usage", bool, False))}


# -- the answer --------------------------------------------------------------------------------------------


def random_string(seed: str, salt: str) -> str:
    """``random_string()``: 32 characters of its alphabet (here drawn from the request, so repeatable)."""
    rng = random.Random(stable_id(seed, salt))
    return "".join(rng.choice(_ALNUM) for _ in range(32))


def timings(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """``result_timings::to_json`` for a fake that evaluates 2 prompt tokens a millisecond and predicts one
    token every 10 ms."""
    prompt_ms, predicted_ms = prompt_tokens * 0.5, completion_tokens * 10.0
    return {"cache_n": 0, "prompt_n": prompt_tokens, "prompt_ms": prompt_ms,
            "prompt_per_token_ms": prompt_ms / prompt_tokens if prompt_tokens else 0.0,
            "prompt_per_second": 1e3 * prompt_tokens / prompt_ms if prompt_ms else 0.0,
            "predicted_n": completion_tokens, "predicted_ms": predicted_ms,
            "predicted_per_token_ms": predicted_ms / completion_tokens if completion_tokens else 0.0,
            "predicted_per_second": 1e3 * completion_tokens / predicted_ms if predicted_ms else 0.0}


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    """``usage_json_oaicompat``."""
    return {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": completion + prompt,
            "prompt_tokens_details": {"cached_tokens": 0}}


def answer(params: dict[str, Any], model: str, seed: str) -> dict[str, Any]:
    """The shared rule's answer under llama.cpp's reading of the request: text, thinking, the tool call
    (``None`` or its id, name and argument text), the finish reason and the counts."""
    rf = params["response_format"]
    tools = [{**t, "function": {**t["function"], "parameters": t["function"].get("parameters")
                                if isinstance(t["function"].get("parameters"), dict) else {}}} for t in params["tools"]]
    messages = [{**m, "tool_calls": m["tool_calls"] if isinstance(m.get("tool_calls"), list) else None}
                for m in params["messages"]]
    norm = {"messages": messages, "tools": tools, "tool_choice": params["tool_choice"],
            "stop": params["stop"], "max_tokens": params["max_tokens"],
            "response_format": {"type": "json_schema", "json_schema": {"schema": (rf.get("json_schema") or {}).get("schema") or {}}}
            if rf.get("type") == "json_schema" else rf}
    thinking = params["thinking"] and model_name(model) in _THINKING_MODELS
    d, prompt_tokens, _ = _decision(norm, thinking=thinking)
    call = None
    if d.tool_name:
        call = {"id": random_string(seed, "tool:" + d.tool_name), "name": d.tool_name,
                "arguments": _dump(d.tool_args or {})}
    completion = count_tokens(d.text) + count_tokens(d.reasoning) + (count_tokens(call["arguments"]) + 3 if call else 0)
    finish = "length" if d.finish == "length" else "tool_calls" if call else "stop"
    return {"text": "" if call else d.text, "reasoning": d.reasoning, "call": call, "finish": finish,
            "prompt_tokens": prompt_tokens, "completion_tokens": completion}


def _message(a: dict[str, Any]) -> dict[str, Any]:
    """``common_chat_msg::to_json_oaicompat``."""
    msg: dict[str, Any] = {"role": "assistant", "content": a["text"]}
    if a["reasoning"]:
        msg["reasoning_content"] = a["reasoning"]
    if a["call"]:
        c = a["call"]
        msg["tool_calls"] = [{"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]},
                              "id": c["id"]}]
    return msg


def completion(cid: str, created: int, a: dict[str, Any], n: int) -> dict[str, Any]:
    """``to_json_oaicompat_chat`` (with ``n`` > 1 the choices of every completion, one index each)."""
    choices = [{"finish_reason": a["finish"], "index": i, "message": _message(a)} for i in range(n)]
    completion_tokens = a["completion_tokens"] * n
    return {"choices": choices, "created": created, "model": MODEL_FILE, "system_fingerprint": BUILD_INFO,
            "object": "chat.completion", "usage": _usage(a["prompt_tokens"], completion_tokens), "id": cid,
            "timings": timings(a["prompt_tokens"], completion_tokens)}


def stream_frames(cid: str, created: int, a: dict[str, Any], include_usage: bool) -> list[bytes]:
    """The partial results' chunks (role first, then one per piece), the final result's finish chunk and
    usage chunk, ``timings`` on the last, ``[DONE]``."""

    def chunk(choices: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
        return {"choices": choices, "created": created, "id": cid, "model": MODEL_FILE,
                "system_fingerprint": BUILD_INFO, "object": "chat.completion.chunk", **more}

    def delta(d: dict[str, Any]) -> dict[str, Any]:
        return chunk([{"finish_reason": None, "index": 0, "delta": d}])

    out = [delta({"role": "assistant", "content": None})]
    out += [delta({"reasoning_content": p}) for p in split_for_stream(a["reasoning"])]
    out += [delta({"content": p}) for p in split_for_stream(a["text"])]
    if a["call"]:
        c = a["call"]
        out.append(delta({"tool_calls": [{"index": 0, "id": c["id"], "type": "function", "function": {"name": c["name"]}}]}))
        args = c["arguments"]
        out += [delta({"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 8]}}]})
                for i in range(0, len(args), 8)]
    tail = [chunk([{"finish_reason": a["finish"], "index": 0, "delta": {}}])]
    if include_usage:
        tail.append(chunk([], usage=_usage(a["prompt_tokens"], a["completion_tokens"])))
    tail[-1]["timings"] = timings(a["prompt_tokens"], a["completion_tokens"])
    return [b"data: " + compact_utf8(c) + b"\n\n" for c in out + tail] + [b"data: [DONE]\n\n"]


def stream_error_frame() -> bytes:
    """A failure mid-stream on an OpenAI-compatible route: ``format_oai_sse({"error": …})``, and the stream ends
    (no ``[DONE]``)."""
    return b'data: {"error":{"code":500,"message":"Internal server error","type":"server_error"}}\n\n'


async def send_llama_json(request: web.Request, payload: Any, fault: Fault | None) -> web.StreamResponse:
    """``res->ok(json)``: nlohmann's compact UTF-8, ``application/json; charset=utf-8``, ``Server: llama.cpp``."""
    resp = await send_json(request, payload, fault, LLAMA_HEADERS, encode=compact_utf8)
    if isinstance(resp, web.Response) and not resp.prepared and resp.content_type == "application/json":
        resp.charset = "utf-8"
    return resp


async def send_llama_stream(request: web.Request, frames: list[bytes], fault: Fault | None,
                            error_frame: Callable[[], bytes] = stream_error_frame) -> web.StreamResponse:
    """llama-server's event stream: ``text/event-stream``, ``X-Accel-Buffering: no``, no ``Cache-Control``."""
    return await send_stream(request, frames, content_type="text/event-stream", fault=fault, error_frame=error_frame,
                             cache_control=None, headers={**LLAMA_HEADERS, "X-Accel-Buffering": "no"})


def context_window(model: str) -> int:
    from .docker import MODELS  # the runner's model table (docker.py imports this module)

    return MODELS.get(model_name(model), 131_072)


CONTEXT_EXCEEDED = "the request exceeds the available context size, try increasing it"
"""llama-server's ``exceed_context_size_error`` message (every route that runs the model reports it)."""


def _too_long(prompt_tokens: int, model: str) -> web.Response | None:
    """``exceed_context_size_error``: the prompt does not fit the slot's context."""
    window = context_window(model)
    if prompt_tokens <= window:
        return None
    return llama_error(400, CONTEXT_EXCEEDED, "exceed_context_size_error", n_prompt_tokens=prompt_tokens, n_ctx=window)


def completion_id(seed: str) -> str:
    """``gen_chatcmplid()``: every completion route's id (chat, text and Anthropic messages)."""
    return "chatcmpl-" + random_string(seed, "id")


async def _chat(request: web.Request, raw: bytes, body: dict[str, Any], model: str,
                fault: Fault | None) -> web.StreamResponse:
    """llama.cpp's ``/v1/chat/completions``."""
    try:
        params = chat_params(body, vision=model_name(model) == "ai/gemma3")
    except _Refusal as r:
        return llama_error(r.status, r.message)
    seed = stable_id(raw.decode("utf-8", "replace"))
    a = answer(params, model, seed)
    too_long = _too_long(a["prompt_tokens"], model)
    if too_long is not None:
        return too_long
    cid, created = completion_id(seed), int(time.time())
    if not params["stream"]:
        return await send_llama_json(request, completion(cid, created, a, params["n"]), fault)
    return await send_llama_stream(request, stream_frames(cid, created, a, params["include_usage"]), fault)


chat_completions = scheduler_route(ENDPOINT, _chat)
"""``POST /engines[/{backend}]/v1/chat/completions`` and ``POST /v1/chat/completions``."""


# -- text completions (llama.cpp's /v1/completions) ---------------------------------------------------------

_PROMPT_ELEMENTS = ('"prompt" elements must be a string, a list of tokens, a JSON object containing a prompt '
                    'string, or a list of mixed strings & tokens.')


def _is_tokens(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(t, int) and not isinstance(t, bool) for t in v)


def _prompts(prompt: Any) -> list[str | list[int]]:
    """``tokenize_input_prompts``: a string, a token list, or a list of either (one task each); its
    refusals are runtime errors (500)."""
    items = list(prompt) if isinstance(prompt, list) and not _is_tokens(prompt) else [prompt]
    out: list[str | list[int]] = []
    for p in items:
        if isinstance(p, dict) and isinstance(p.get("prompt_string"), str):
            p = p["prompt_string"]
        if isinstance(p, str) or _is_tokens(p):
            out.append(p)
        elif isinstance(p, list) and all(isinstance(t, str) or (isinstance(t, int) and not isinstance(t, bool)) for t in p):
            out.append("".join(t if isinstance(t, str) else f"<{t}>" for t in p))  # mixed strings & tokens
        else:
            raise _Refusal(_PROMPT_ELEMENTS, 500)
    if not out:
        raise _Refusal('"prompt" must not be empty', 500)
    return out


def completions_params(body: dict[str, Any]) -> dict[str, Any]:
    """``oaicompat_completion_params_parse`` (runtime errors: 500), the prompts, ``params_from_json_cmpl``."""
    if "prompt" not in body:
        raise _Refusal('"prompt" is required', 500)
    if _jv(body, "echo", bool, False):
        raise _Refusal("Only no echo is supported", 500)
    for param in ("best_of", "suffix"):
        if param in body:
            raise _Refusal("Unsupported param: " + param, 500)
    return {"prompts": _prompts(body["prompt"]), "stop": _stops(body), "stream": _jv(body, "stream", bool, False),
            **_cmpl_params(body)}


def text_answer(params: dict[str, Any], prompt: str | list[int], model: str, seed: str) -> dict[str, Any]:
    """The chat route's decision for the prompt as one user message (no chat template: no thinking, no tools)."""
    text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
    a = answer({"messages": [{"role": "user", "content": text}], "tools": [], "tool_choice": "auto",
                "stop": params["stop"], "max_tokens": params["max_tokens"], "response_format": {},
                "thinking": False}, model, seed)
    if not isinstance(prompt, str):
        a["prompt_tokens"] = len(prompt)
    return a


def _text_choice(text: str, index: int, finish: str | None) -> dict[str, Any]:
    return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}


def text_completion(cid: str, created: int, a: dict[str, Any], index: int, *, stream: bool = False) -> dict[str, Any]:
    """``server_task_result_cmpl_final::to_json_oaicompat`` (streamed: its text is already sent, ``""``)."""
    return {"choices": [_text_choice("" if stream else a["text"], index, a["finish"])], "created": created,
            "model": MODEL_FILE, "system_fingerprint": BUILD_INFO, "object": "text_completion",
            "usage": _usage(a["prompt_tokens"], a["completion_tokens"]), "id": cid,
            "timings": timings(a["prompt_tokens"], a["completion_tokens"])}


def text_stream_frames(cid: str, created: int, answers: list[dict[str, Any]]) -> list[bytes]:
    """``server_task_result_cmpl_partial::to_json_oaicompat`` per piece, the final result per prompt, ``[DONE]``."""
    out: list[dict[str, Any]] = []
    for i, a in enumerate(answers):
        out += [{"choices": [_text_choice(p, i, None)], "created": created, "model": MODEL_FILE,
                 "system_fingerprint": BUILD_INFO, "object": "text_completion", "id": cid}
                for p in split_for_stream(a["text"])]
        out.append(text_completion(cid, created, a, i, stream=True))
    return [b"data: " + compact_utf8(c) + b"\n\n" for c in out] + [b"data: [DONE]\n\n"]


async def _completions(request: web.Request, raw: bytes, body: dict[str, Any], model: str,
                       fault: Fault | None) -> web.StreamResponse:
    """llama.cpp's ``/v1/completions``: one task per prompt, each its own choice ``index``; one prompt is one
    object, several an array of them (``arr.size() == 1 ? arr[0] : arr``)."""
    try:
        params = completions_params(body)
    except _Refusal as r:
        return llama_error(r.status, r.message)
    seed = stable_id(raw.decode("utf-8", "replace"))
    answers = [text_answer(params, p, model, stable_id(seed, i)) for i, p in enumerate(params["prompts"])]
    for a in answers:
        too_long = _too_long(a["prompt_tokens"], model)
        if too_long is not None:
            return too_long
    cid, created = completion_id(seed), int(time.time())
    if params["stream"]:
        return await send_llama_stream(request, text_stream_frames(cid, created, answers), fault)
    results = [text_completion(cid, created, a, i) for i, a in enumerate(answers)]
    return await send_llama_json(request, results[0] if len(results) == 1 else results, fault)


completions = scheduler_route(ENDPOINT, _completions)
"""``POST /engines[/{backend}]/v1/completions`` and ``POST /v1/completions``."""


def add_routes(app: web.Application) -> None:
    """The chat and text completion routes ``routeHandlers`` registers, with the ``/v1`` alias."""
    for prefix in PREFIXES:
        app.router.add_post(prefix + "/chat/completions", chat_completions)
        app.router.add_post(prefix + "/completions", completions)

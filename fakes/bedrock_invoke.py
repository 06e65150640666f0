"""Bedrock Runtime's InvokeModel and InvokeModelWithResponseStream, for the models the fake serves.

Paths (Bedrock Runtime API reference): ``POST /model/{modelId}/invoke`` (the model's own JSON body in,
its own JSON out) and ``POST /model/{modelId}/invoke-with-response-stream`` (the same body in, an
``application/vnd.amazon.eventstream`` of ``chunk`` events out, each ``{"bytes": <base64>}``). Auth,
faults and the error shape are the Converse path's (:mod:`interlingua.fakes.bedrock`).

Anthropic Claude (``anthropic.claude-…``, inference profiles ``us.``/``eu.``/``global.``… and ARNs):
the body is Anthropic's Messages request without ``model`` and ``stream`` and with
``"anthropic_version": "bedrock-2023-05-31"`` (AWS user guide, "Anthropic Claude Messages API" and
"Inference using Anthropic Messages API"). Bedrock checks the body against its JSON schema first and
answers 400 ``ValidationException`` "Malformed input request: #: required key [max_tokens] not
found, please reformat your input and try again." (every violation, ``#: …`` after ``#: …``; a body
with ``messages`` starts with ``#: subject must not be valid against schema {"required":["messages"]}``,
the text-completions branch of the schema) — an unknown top-level key is ``#: extraneous key [model]
is not permitted``. Another ``anthropic_version`` value is 400 "Invalid API version: <value>"
(boto3 issue #4218); the Messages API version ``2026-10-21`` that ``anthropic>=2``'s Bedrock client
sends by default was seen accepted live by Claude Haiku 4.5 only (pydantic-ai's note on
anthropic-sdk-python#2031), so the fake accepts it for Haiku 4.5 and refuses it otherwise. The
Messages rules themselves (roles, blocks, tool results, ``max_tokens`` ≥ 1…) are Anthropic's, their
messages relayed as ``ValidationException``.

The answer is Anthropic's message (``id`` ``msg_bdrk_01…``, ``model`` the Anthropic name such as
``claude-3-5-haiku-20241022``, tool ids ``toolu_bdrk_01…``) with the headers
``x-amzn-bedrock-input-token-count``, ``-output-token-count`` and ``-invocation-latency``. Content and
token counts are the Converse path's for the same conversation (the body is read as the equivalent
Converse request and decided by the same rule), so converse and invoke agree. Streamed, each
Anthropic event (``message_start``, ``content_block_start``/``_delta``/``_stop`` per block,
``message_delta``, ``message_stop``) is one chunk, and ``message_stop`` carries
``"amazon-bedrock-invocationMetrics": {inputTokenCount, outputTokenCount, invocationLatency,
firstByteLatency}``. Prompt caching is not modelled here: the cache counts are 0.

Mid-stream errors are exception events (``:message-type: exception``) of the ``ResponseStream`` union
(botocore's bedrock-runtime model): the ``error-event`` fault sends ``throttlingException``;
``error-event=<status>`` picks another member by its HTTP status (400 ``validationException``, 408
``modelTimeoutException``, 424 ``modelStreamErrorException``, 500 ``internalServerException``, 503
``serviceUnavailableException``).

Amazon Titan Text Embeddings (``amazon.titan-embed-text-v2:0``, and G1 ``amazon.titan-embed-text-v1``),
on ``/invoke`` only (streaming them is 400 "The model is unsupported for streaming."): ``{"inputText",
"dimensions" (1024 default, 512, 256), "normalize" (default true), "embeddingTypes" (["float"] default,
"binary")}`` → ``{"embedding", "inputTextTokenCount", "embeddingsByType"}`` (AWS user guide, "Amazon
Titan Embeddings Text"); the vectors are :mod:`interlingua.fakes._embeddings`' deterministic unit
vectors, the binary one their signs as 0/1.

The other chat families' native bodies (AWS user guide, "Inference request parameters and response
fields for foundation models"; :mod:`interlingua.fakes.bedrock_invoke_native`), each checked against its
schema first with the same everit-style "Malformed input request: …" 400 (a missing or unknown key, a
wrong type, a value out of range: ``#/max_gen_len: 8192 is not less or equal to 2048``), then read as the
equivalent Converse request and answered by the Converse path's rule, with the same headers, faults and
chunk framing as Claude's (the last chunk carries ``amazon-bedrock-invocationMetrics``). A prompt string
is one user message whose text is the whole prompt (a chat template in it is text like any other):

* Meta Llama 3, 3.1, 3.2, 3.3 and 4 (``meta.llama3-…``, ``meta.llama4-…``, profiles ``us.meta.…``):
  ``{"prompt", "temperature", "top_p", "max_gen_len" (1-2048, 512 by default), "images"}`` →
  ``{"generation", "prompt_token_count", "generation_token_count", "stop_reason": "stop"|"length"}``;
  streamed, one chunk per piece ``{"generation", "prompt_token_count" (the first only, else null),
  "generation_token_count" (so far), "stop_reason": null}`` and a last ``{"generation": "", …,
  "stop_reason"}``. Llama 4 does not stream (the guide: no InvokeModelWithResponseStream): 400 "The model
  is unsupported for streaming."
* Mistral AI text completion (``mistral.mistral-7b-instruct-v0:2``, ``mistral.mixtral-8x7b-instruct-v0:1``,
  ``mistral.mistral-large-2402/2407-v1:0``, ``mistral.mistral-small-2402-v1:0``): ``{"prompt", "max_tokens"
  (1-8192, Mixtral 4096), "stop", "temperature", "top_p", "top_k"}`` → ``{"outputs": [{"text",
  "stop_reason": "stop"|"length"}]}``; streamed, ``{"outputs": [{"text": piece, "stop_reason": null}]}``
  chunks and a last ``{"outputs": [{"text": "", "stop_reason"}]}``. Mistral Large also takes the chat
  completion body ``{"messages" (system/user/assistant with ``tool_calls``/tool with ``tool_call_id``),
  "tools", "tool_choice": "auto"|"any"|"none", "max_tokens", "top_p", "temperature"}`` → ``{"choices":
  [{"index": 0, "message": {"role": "assistant", "content", "tool_calls"?: [{"id", "function": {"name",
  "arguments"}}]}, "stop_reason": "stop"|"length"|"tool_calls"}]}``, streamed as the same ``choices``
  object per piece (``stop_reason`` null) and a last one with the ``stop_reason``.
* Amazon Nova Micro, Lite, Pro, Premier (and 2 Lite): the ``messages-v1`` body (Converse's request with
  ``inferenceConfig`` ``max_new_tokens``/``maxTokens`` 1-5000 (Premier, 2 Lite: no ceiling here),
  ``temperature``, ``top_p``/``topP``, ``top_k``/``topK`` 0-500, ``stopSequences``; ``toolConfig``; no
  documents) → ``{"output": {"message": {"content", "role"}}, "stopReason", "usage": {"inputTokens",
  "outputTokens", "totalTokens", "cacheReadInputTokenCount", "cacheWriteInputTokenCount"}}``; streamed,
  one chunk per ConverseStream event, keyed by its name (``messageStart``, ``contentBlockDelta``,
  ``contentBlockStop``, ``contentBlockStart`` for a tool, ``messageStop``, ``metadata``). The conversation
  rules past the schema are the Converse path's, in its words.
* Amazon Titan Text Express, Lite, Premier: ``{"inputText", "textGenerationConfig": {"maxTokenCount"
  (0-8192, Lite 4096, Premier 3072; 512 by default), "temperature", "topP", "stopSequences"}}`` →
  ``{"inputTextTokenCount", "results": [{"tokenCount", "outputText", "completionReason": "FINISH"|"LENGTH"|
  "STOP_CRITERIA_MET"}]}``; streamed, ``{"outputText", "index": 0, "totalOutputTextTokenCount",
  "completionReason", "inputTextTokenCount"}`` per piece (the input count on the first, the output count
  and reason on the last).

* Cohere Command R and R+ (``cohere.command-r-v1:0``, ``cohere.command-r-plus-v1:0``; "Cohere Command R and
  Command R+ models"): ``{"message", "chat_history": [{"role": "USER"|"CHATBOT", "message"}], "documents",
  "search_queries_only", "preamble", "max_tokens" (1-4000), "temperature", "p" (0.01-0.99), "k" (0-500),
  "prompt_truncation": "OFF"|"AUTO_PRESERVE_ORDER", "frequency_penalty", "presence_penalty", "seed",
  "return_prompt", "tools": [{"name", "description", "parameter_definitions"}], "tool_results": [{"call":
  {"name", "parameters"}, "outputs"}], "stop_sequences" (up to 4), "raw_prompting"}`` → ``{"response_id",
  "text", "generation_id", "chat_history" (the history, the message and the answer), "finish_reason":
  "COMPLETE"|"MAX_TOKENS", "tool_calls"?: [{"name", "parameters"}], "prompt"? (with ``return_prompt``: the
  conversation in Command R's turn tokens)}``; streamed, Cohere's events ``{"is_finished": false, "event_type":
  "stream-start", "generation_id"}``, ``text-generation`` (``text``) per piece, ``tool-calls-generation``
  (``tool_calls``) for a call, and ``{"is_finished": true, "event_type": "stream-end", "response": <the
  non-streamed answer with "meta": {"api_version", "billed_units": {"input_tokens", "output_tokens"}}, which the
  guide says "only exists for streaming">, "finish_reason"}``. No ``citations`` (no documents are searched). The preamble is the system prompt, tool results an
  assistant turn calling the tools and a user turn with their outputs.
* AI21 Labs Jamba 1.5 Mini, 1.5 Large and Instruct (``ai21.jamba-…-v1:0``; "AI21 Labs Jamba models"): the chat
  completion body ``{"messages" (system/user/assistant/tool), "max_tokens" (0-4096, 4096 by default),
  "temperature" (0-2), "top_p", "stop", "n" (1-16), "frequency_penalty", "presence_penalty", "tools",
  "response_format", "documents"}`` → ``{"id": "chatcmpl-…", "choices": [{"index", "message": {"role",
  "content", "tool_calls"}, "finish_reason": "stop"|"length"|"tool_calls"}] (n of them), "usage":
  {"prompt_tokens", "completion_tokens", "total_tokens"}, "meta": {"requestDurationMillis"}, "model":
  "jamba-1.5-mini"…}``; streamed, chat completion chunks (``choices[0].delta``: the role first, then the
  content pieces and any ``tool_calls``, then an empty delta with the ``finish_reason``; ``usage`` on the last).
* DeepSeek-R1 (``deepseek.r1-v1:0`` through an inference profile such as ``us.deepseek.r1-v1:0``; the bare id
  is 400 "Invocation of model ID deepseek.r1-v1:0 with on-demand throughput isn't supported. Retry your request
  with the ID or ARN of an inference profile that contains this model." (its apostrophe a U+2019); "DeepSeek models"): ``{"prompt",
  "temperature" (≤ 1), "top_p" (≤ 1), "max_tokens" (1-32,768), "stop" (up to 10)}`` → ``{"choices": [{"text",
  "stop_reason": "stop"|"length"}]}``; streamed, ``{"choices": [{"text": piece, "stop_reason": null}]}`` chunks
  and a last ``{"choices": [{"text": "", "stop_reason"}]}``.
* OpenAI gpt-oss 20b and 120b (``openai.gpt-oss-20b-1:0``, ``-120b-1:0``; "OpenAI models"): OpenAI's Create chat
  completion body → the chat completion object (``id``, ``object``, ``created``, ``model``, ``choices``,
  ``usage``). ``model``, if given, must be the called model's id, and ``stream`` must be false: InvokeModel
  only, as the models do not stream (InvokeModelWithResponseStream, or ``"stream": true``, is 400 "The model is
  unsupported for streaming.", as users saw it live: langchain-aws#573). The reasoning the real model writes
  before the answer (in ``<reasoning>`` tags) is not modelled.

Not served: Qwen, Writer, DeepSeek V3, Cohere's legacy Command and AI21's Jurassic models, and the other
Mistral models (Pixtral, Ministral…), whose ids, like a malformed one, are 400 "The provided model identifier
is invalid."
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ._content import SCRIPTED, Decision, count_tokens, split_for_stream, stable_id
from ._embeddings import vector, wire_floats
from ._jsonenc import compact
from ._server import NOT_JSON, Call, endpoint, send_json, send_stream
from .anthropic import validate_messages_body
from .bedrock import _MODEL_ID, CONTEXT_WINDOW, _decision, _error, _event, _request_id, encode_frame

__all__ = ["ANTHROPIC_VERSION", "exception_frame", "handle"]

ANTHROPIC_VERSION = "bedrock-2023-05-31"
"""The ``anthropic_version`` Bedrock documents for the Messages API on bedrock-runtime."""
_SDK_MESSAGES_VERSION = "2026-10-21"
_TITAN_V2 = "amazon.titan-embed-text-v2:0"
_TITAN_G1 = "amazon.titan-embed-text-v1"
_TITAN_MAX_TOKENS = 8192
_TITAN_MAX_CHARS = 50_000
_GEO = re.compile(r"^(us|eu|apac|global|us-gov|jp|au|ca)\.")
_CLAUDE = re.compile(r"^anthropic\.(claude-[a-z0-9.-]+?)(-v\d+(:\d+)?)?$")
# The Messages request's members (the SDK's MessageCreateParams without ``model``/``stream``, the
# sampling parameters, and Bedrock's own two); any other top-level key is "extraneous".
_CLAUDE_KEYS = frozenset({
    "anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "stop_sequences", "temperature",
    "top_p", "top_k", "tools", "tool_choice", "thinking", "metadata", "output_config", "output_format",
    "cache_control", "container", "context_management", "mcp_servers", "service_tier", "inference_geo", "speed",
    "diagnostics", "user_profile_id", "workspace_id",
})
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# -- model ids ----------------------------------------------------------------------------------------


def _base_id(model: str) -> str:
    """The foundation-model id behind a model id, an inference profile id or an ARN."""
    return _GEO.sub("", model.rsplit("/", 1)[-1])


def anthropic_name(model: str) -> str | None:
    """``anthropic.claude-3-5-haiku-20241022-v1:0`` → ``claude-3-5-haiku-20241022`` (the ``model`` a Claude
    answer names); ``None`` for a model id that is not Claude's."""
    m = _CLAUDE.match(_base_id(model))
    return m.group(1) if m else None


def _is_titan(model: str) -> bool:
    return _base_id(model) in (_TITAN_V2, _TITAN_G1)


def _model_and_action(request: web.Request) -> tuple[str, str]:
    encoded, _, action = request.raw_path.partition("?")[0][len("/model/"):].rpartition("/")
    return unquote(encoded), action


def _invalid_model() -> web.Response:
    return _error(400, "ValidationException", "The provided model identifier is invalid.")


# -- Bedrock's schema validation (its everit-style messages) ---------------------------------------------


def _json_type(v: Any) -> str:
    if v is None:
        return "Null"
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, float):
        return "BigDecimal"
    if isinstance(v, str):
        return "String"
    return "JSONArray" if isinstance(v, list) else "JSONObject"


def _malformed(violations: list[str]) -> web.Response:
    return _error(400, "ValidationException",
                  f"Malformed input request: {''.join(violations)}, please reformat your input and try again.")


def _not_an_object(body: Any) -> web.Response | None:
    if body is NOT_JSON:
        return _error(400, "ValidationException", "Malformed input request, please reformat your input and try again.")
    if not isinstance(body, dict):
        return _malformed([f"#: expected type: JSONObject, found: {_json_type(body)}"])
    return None


def _typed(body: dict[str, Any], key: str, want: str) -> list[str]:
    if key not in body:
        return []
    got = _json_type(body[key])
    return [] if got == want else [f"#/{key}: expected type: {want}, found: {got}"]


def _claude_problem(body: Any, model: str, name: str) -> web.Response | None:
    early = _not_an_object(body)
    if early is not None:
        return early
    violations = [f"#: required key [{k}] not found" for k in ("messages", "max_tokens", "anthropic_version")
                  if k not in body]
    violations += [f"#: extraneous key [{k}] is not permitted" for k in body if k not in _CLAUDE_KEYS]
    violations += _typed(body, "anthropic_version", "String") + _typed(body, "max_tokens", "Integer")
    violations += _typed(body, "messages", "JSONArray")
    if violations:
        if "messages" in body:
            violations.insert(0, '#: subject must not be valid against schema {"required":["messages"]}')
        return _malformed(violations)
    version = body["anthropic_version"]
    if version != ANTHROPIC_VERSION and not (version == _SDK_MESSAGES_VERSION and "haiku-4-5" in name):
        return _error(400, "ValidationException", f"Invalid API version: {version}")
    rest = {k: v for k, v in body.items() if k not in ("anthropic_version", "anthropic_beta")}
    invalid = validate_messages_body({"model": name, **rest})
    if invalid is not None:
        return _error(400, "ValidationException", invalid[2])
    return None


# -- the Claude answer --------------------------------------------------------------------------------


def _converse_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    out: list[dict[str, Any]] = []
    for b in content:
        t = b.get("type")
        if t == "text":
            out.append({"text": b.get("text", "")})
        elif t == "tool_use":
            out.append({"toolUse": {"toolUseId": b["id"], "name": b["name"], "input": b["input"]}})
        elif t == "tool_result":
            c = b.get("content")
            parts = [{"text": c}] if isinstance(c, str) else [
                {"text": p["text"]} for p in c or () if isinstance(p, dict) and isinstance(p.get("text"), str)]
            out.append({"toolResult": {"toolUseId": b.get("tool_use_id"), "content": parts}})
    return out


def _as_converse(body: dict[str, Any], *, stops: bool = True) -> tuple[dict[str, Any], int]:
    """The Converse request that says what this Messages body says (and the prompt tokens of tools the
    Converse request leaves out: ``tool_choice: none`` has no Converse form, so its tools are counted
    but not offered)."""
    conv: dict[str, Any] = {"messages": [{"role": m["role"], "content": _converse_blocks(m["content"])}
                                         for m in body["messages"]]}
    system = body.get("system")
    if isinstance(system, str):
        conv["system"] = [{"text": system}] if system else []
    elif isinstance(system, list):
        conv["system"] = [{"text": b.get("text", "")} for b in system]
    tools = [{"toolSpec": {"name": t["name"], **({"description": t["description"]} if t.get("description") else {}),
                           "inputSchema": {"json": t.get("input_schema") or {}}}}
             for t in body.get("tools") or () if isinstance(t, dict) and "input_schema" in t]
    choice = body.get("tool_choice") or {"type": "auto"}
    extra = 0
    if tools and choice["type"] == "none":
        extra = sum(count_tokens(json.dumps(t)) for t in tools)
    elif tools:
        conv["toolConfig"] = {"tools": tools, "toolChoice": {"auto": {"auto": {}}, "any": {"any": {}},
                                                             "tool": {"tool": {"name": choice.get("name")}}}[choice["type"]]}
    inference: dict[str, Any] = {"maxTokens": body["max_tokens"]}
    if stops and body.get("stop_sequences"):
        inference["stopSequences"] = body["stop_sequences"]
    conv["inferenceConfig"] = inference
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        conv["additionalModelRequestFields"] = {"thinking": {"type": "enabled"}}
    return conv, extra


def _answer(body: dict[str, Any]) -> tuple[Decision, int, str | None]:
    """The decision, the prompt tokens, and the stop sequence that ended the answer (if one did)."""
    conv, extra = _as_converse(body)
    d, prompt = _decision(conv)
    sequence = None
    stops = [s for s in body.get("stop_sequences") or () if s]
    if d.finish == "stop" and not d.tool_name and stops and SCRIPTED.get() is None:
        full = _decision(_as_converse(body, stops=False)[0])[0].text
        sequence = next((s for s in stops if s in full), None)
    return d, prompt + extra, sequence


def _b62(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_BASE62[b % 62] for b in digest[:n])


def _blocks(d: Decision, seed: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if d.reasoning:
        sig = base64.b64encode(b"\x12\x08" + hashlib.sha256(f"{seed}{d.reasoning}".encode()).digest() * 3).decode()
        blocks.append({"type": "thinking", "thinking": d.reasoning, "signature": sig})
    if d.text:
        blocks.append({"type": "text", "text": d.text})
    if d.tool_name:
        blocks.append({"type": "tool_use", "id": "toolu_bdrk_01" + _b62(seed + d.tool_name, 22),
                       "name": d.tool_name, "input": d.tool_args or {}})
    return blocks


def _chunk(event: dict[str, Any]) -> bytes:
    return _event("chunk", {"bytes": base64.b64encode(compact(event)).decode()})


def _stream_events(message: dict[str, Any], metrics: dict[str, int]) -> list[dict[str, Any]]:
    usage = message["usage"]
    events: list[dict[str, Any]] = [{"type": "message_start", "message": {
        **message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 1}}}]
    for i, b in enumerate(message["content"]):
        t = b["type"]
        deltas: list[dict[str, Any]]
        if t == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in split_for_stream(b["text"])]
        elif t == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split_for_stream(b["thinking"])]
            deltas.append({"type": "signature_delta", "signature": b["signature"]})
        else:
            start = {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}
            text = json.dumps(b["input"], ensure_ascii=False)
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [{"type": "input_json_delta", "partial_json": text[k:k + 12]} for k in range(0, len(text), 12)]
        events.append({"type": "content_block_start", "index": i, "content_block": start})
        events += [{"type": "content_block_delta", "index": i, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": i})
    events.append({"type": "message_delta", "delta": {"stop_reason": message["stop_reason"],
                                                      "stop_sequence": message["stop_sequence"]},
                   "usage": {"output_tokens": usage["output_tokens"]}})
    events.append({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
    return events


# -- mid-stream exceptions ------------------------------------------------------------------------------

_STREAM_EXCEPTIONS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("validationException", {"message": "The request failed validation."}),
    408: ("modelTimeoutException", {"message": "Model has timed out in processing the request. Try your request "
                                               "again."}),
    424: ("modelStreamErrorException", {"message": "The model encountered an error while streaming the response.",
                                        "originalStatusCode": 500, "originalMessage": "Internal server error"}),
    429: ("throttlingException", {"message": "Too many requests, please wait before trying again."}),
    500: ("internalServerException", {"message": "The server encountered an internal error."}),
    503: ("serviceUnavailableException", {"message": "Bedrock is unable to process your request."}),
}


def exception_frame(exception_type: str, payload: dict[str, Any]) -> bytes:
    """One exception event of the ``ResponseStream`` union (``:message-type: exception``)."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_frame(headers, compact(payload))


def _error_frame_for(value: float | None) -> Callable[[], bytes]:
    type_, payload = _STREAM_EXCEPTIONS.get(int(value) if value is not None else 429) or _STREAM_EXCEPTIONS[429]
    return lambda: exception_frame(type_, payload)


# -- handlers --------------------------------------------------------------------------------------------


@endpoint("chat")
async def _invoke_claude(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    model, action = _model_and_action(request)
    name = anthropic_name(model) if _MODEL_ID.match(model) else None
    if name is None:
        return _invalid_model()
    problem = _claude_problem(call.body, model, name)
    if problem is not None:
        return problem
    body: dict[str, Any] = call.body
    d, prompt, sequence = _answer(body)
    if prompt > CONTEXT_WINDOW:
        return _error(400, "ValidationException", "Input is too long for requested model.")
    seed = stable_id(model, body)
    args = json.dumps(d.tool_args, separators=(",", ":"), ensure_ascii=False) if d.tool_name else ""
    completion = count_tokens(d.reasoning) + count_tokens(d.text) + (count_tokens(args) + 3 if d.tool_name else 0)
    stop_reason = ("tool_use" if d.tool_name else "max_tokens" if d.finish == "length"
                   else "stop_sequence" if sequence else "end_turn")
    usage = {"input_tokens": prompt, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
             "output_tokens": completion}
    message = {"id": "msg_bdrk_01" + _b62(seed, 22), "type": "message", "role": "assistant", "model": name,
               "content": _blocks(d, seed), "stop_reason": stop_reason, "stop_sequence": sequence, "usage": usage}
    latency = 100 + completion
    headers = {"x-amzn-RequestId": _request_id(seed, action)}
    if action == "invoke":
        headers.update({"x-amzn-bedrock-invocation-latency": str(latency),
                        "x-amzn-bedrock-output-token-count": str(completion),
                        "x-amzn-bedrock-input-token-count": str(prompt)})
        return await send_json(request, message, fault, headers)
    metrics = {"inputTokenCount": prompt, "outputTokenCount": completion, "invocationLatency": latency,
               "firstByteLatency": 100}
    frames = [_chunk(e) for e in _stream_events(message, metrics)]
    if fault is not None and fault.name == "malformed":
        # as on converse-stream: the second frame's payload flipped, so its message CRC no longer matches
        bad = bytearray(frames[1])
        bad[-6] ^= 0xFF
        frames, fault = [frames[0], bytes(bad), *frames[2:]], None
    error_frame = _error_frame_for(fault.value if fault is not None and fault.name == "error-event" else None)
    return await send_stream(request, frames, content_type="application/vnd.amazon.eventstream", fault=fault,
                             error_frame=error_frame,
                             headers={**headers, "X-Amzn-Bedrock-Content-Type": "application/json"})


def _titan_problem(body: Any, v2: bool) -> web.Response | None:
    early = _not_an_object(body)
    if early is not None:
        return early
    allowed = ("inputText", "dimensions", "normalize", "embeddingTypes") if v2 else ("inputText",)
    violations = [] if "inputText" in body else ["#: required key [inputText] not found"]
    violations += [f"#: extraneous key [{k}] is not permitted" for k in body if k not in allowed]
    violations += _typed(body, "inputText", "String")
    text = body.get("inputText")
    if isinstance(text, str) and not text:
        violations.append("#/inputText: expected minLength: 1, actual: 0")
    elif isinstance(text, str) and len(text) > _TITAN_MAX_CHARS:
        violations.append(f"#/inputText: expected maxLength: {_TITAN_MAX_CHARS}, actual: {len(text)}")
    if v2:
        dims = body.get("dimensions", 1024)
        if _json_type(dims) != "Integer" or dims not in (256, 512, 1024):
            violations.append(f"#/dimensions: {json.dumps(dims)} is not a valid enum value")
        violations += _typed(body, "normalize", "Boolean") + _typed(body, "embeddingTypes", "JSONArray")
        types = body.get("embeddingTypes")
        if isinstance(types, list):
            if not types:
                violations.append("#/embeddingTypes: expected minimum item count: 1, found: 0")
            violations += [f"#/embeddingTypes/{i}: {json.dumps(t)} is not a valid enum value"
                           for i, t in enumerate(types) if t not in ("float", "binary")]
    return _malformed(violations) if violations else None


@endpoint("embeddings")
async def _invoke_titan(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    model, action = _model_and_action(request)
    if action != "invoke":
        return _error(400, "ValidationException", "The model is unsupported for streaming.")
    v2 = _base_id(model) == _TITAN_V2
    problem = _titan_problem(call.body, v2)
    if problem is not None:
        return problem
    body: dict[str, Any] = call.body
    text: str = body["inputText"]
    tokens = count_tokens(text)
    if tokens > _TITAN_MAX_TOKENS:
        return _error(400, "ValidationException", f"400 Bad Request: Too many input tokens. Max input tokens: "
                      f"{_TITAN_MAX_TOKENS}, request input token count: {tokens} ")
    size = 1024 if v2 else 1536
    floats = wire_floats(vector(_base_id(model), text, size, body.get("dimensions", size),
                                renormalise=body.get("normalize", True)))
    payload: dict[str, Any] = {"embedding": floats, "inputTextTokenCount": tokens}
    if v2:
        types = body.get("embeddingTypes") or ["float"]
        by_type: dict[str, Any] = {}
        if "binary" in types:
            by_type["binary"] = [1 if x > 0 else 0 for x in floats]
        if "float" in types:
            by_type["float"] = floats
        payload["embeddingsByType"] = by_type
    headers = {"x-amzn-RequestId": _request_id(model, text), "x-amzn-bedrock-invocation-latency": str(20 + tokens),
               "x-amzn-bedrock-input-token-count": str(tokens)}
    return await send_json(request, payload, fault, headers)


async def handle(request: web.Request) -> web.StreamResponse:
    """``POST /model/{modelId}/invoke[-with-response-stream]``: Titan embeddings are recorded as the
    ``embeddings`` endpoint, everything else (Claude, the native families of
    :mod:`interlingua.fakes.bedrock_invoke_native`, and the refusal of other ids) as ``chat``."""
    from .bedrock_invoke_native import family, invoke_native

    model, _ = _model_and_action(request)
    if _MODEL_ID.match(model) and _is_titan(model):
        return await _invoke_titan(request)
    if _MODEL_ID.match(model) and family(model) is not None:
        return await invoke_native(request)
    return await _invoke_claude(request)

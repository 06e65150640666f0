"""A fake of Amazon Bedrock Runtime's Converse API, written from the AWS documentation.

Paths (Bedrock Runtime API reference): ``POST /model/{modelId}/converse`` (JSON) and
``POST /model/{modelId}/converse-stream`` (``application/vnd.amazon.eventstream``); InvokeModel's
``POST /model/{modelId}/invoke`` and ``POST /model/{modelId}/invoke-with-response-stream`` for Claude
(Anthropic's Messages body), Titan Text Embeddings and the native bodies of Meta Llama, Mistral, Amazon Nova
and Amazon Titan Text are in :mod:`interlingua.fakes.bedrock_invoke` (and ``bedrock_invoke_native``).
Point an SDK at ``fake.url_for("bedrock")`` as its endpoint URL; the region is whatever the client
signs for.

Auth, checked as Bedrock checks it:

* ``Authorization: Bearer <fake.api_key>`` — a Bedrock API key;
* SigV4 with the fixed fake credentials :data:`ACCESS_KEY_ID` / :data:`SECRET_ACCESS_KEY` (any
  session token is accepted; it is signed like any header). The signature is recomputed here, by
  this module's own implementation of the documented algorithm ("Create a signed AWS API request":
  canonical request with each path segment URI-encoded twice, string to sign, derived key). A wrong
  secret gets 403 ``InvalidSignatureException``, an unknown key id 403
  ``UnrecognizedClientException``, an ``X-Amz-Date`` more than 5 minutes from the server's clock 403
  ``InvalidSignatureException: Signature expired…``, no credentials 403
  ``MissingAuthenticationTokenException``.

Errors use AWS's REST-JSON shape: the exception name in ``x-amzn-ErrorType`` and
``{"message": "…"}`` as the body. Answers follow :mod:`interlingua.fakes._content`; usage counts
come from the tokenizer. The event-stream frames are built by this module's own encoder (prelude,
CRC32s, typed string headers), with the ``p`` padding member real Bedrock events carry.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import struct
import time
import zlib
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import unquote

from aiohttp import web

from interlingua.core._memo import remember

from ._content import SCRIPTED, Decision, count_tokens, decide, split_for_stream, stable_id
from ._faults import Fault
from ._jsonenc import compact_utf8, dumps
from ._prompt_cache import Segment, install, prompt_cache
from ._server import Call, FakeSpec, endpoint, send_json, send_stream, state_of
from ._shapes import ANY, MapOf, check

__all__ = ["ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SPEC", "encode_frame"]

NAME = "bedrock"
ACCESS_KEY_ID = "AKIDFAKEINTERLINGUA1"
"""The only access key id the fake knows."""
SECRET_ACCESS_KEY = "fakeSecretKey/interlingua+0123456789ABCDEF"
"""Its secret: sign with this and the fake accepts the request."""
SERVICE = "bedrock"
MAX_SKEW_SECONDS = 300
CONTEXT_WINDOW = 200_000
_MODEL_ID = re.compile(
    r"^(arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:[a-z-]+/.+|((us|eu|apac|global|us-gov|jp|au|ca)\.)?"
    r"(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|writer|qwen|openai)\.[A-Za-z0-9._:-]+)$"
)
# Embedding models answer InvokeModel only (bedrock_invoke); Converse refuses them
_EMBEDDING_MODEL = re.compile(r"(^|[./])(amazon\.titan-embed|cohere\.embed)")
_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"


# -- errors ---------------------------------------------------------------------------------------


def _error(status: int, type_: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message},
        status=status,
        headers={
            "x-amzn-ErrorType": f"{type_}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": _request_id(type_, time.time()),
        },
    )


_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "The request failed validation."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", "The requested resource could not be found."),
    408: ("ModelTimeoutException", "The model took too long to respond."),
    424: ("ModelErrorException", "The model failed to process the request."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    """Bedrock's body for a status the fault asked for."""
    type_, text = _STATUS_ERRORS.get(status) or (
        ("ServiceUnavailableException", _STATUS_ERRORS[503][1]) if status >= 500 else ("ValidationException", message)
    )
    return _error(status, type_, text)


@functools.lru_cache(maxsize=256)
def _header_block(headers: tuple[tuple[str, str], ...]) -> bytes:
    # Memoised: a stream repeats one header block per event type (three strings), so encoding it
    # again for every event cost more than the event's JSON.
    return b"".join(
        bytes([len(k.encode())]) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
        for k, v in headers
    )


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with string-typed headers (type 7), CRCs and all."""
    hb = _header_block(tuple(headers.items()))
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + hb + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def _event(event_type: str, body: dict[str, Any]) -> bytes:
    body = {**body, "p": _PAD[: 1 + len(dumps(body)) % len(_PAD)]}
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, compact_utf8(body))


def stream_error_frame() -> bytes:
    """The exception event ConverseStream sends when throttled mid-stream."""
    headers = {":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception"}
    return encode_frame(headers, b'{"message":"Too many requests, please wait before trying again."}')


# -- SigV4 verification (independent of interlingua.core.sigv4) ------------------------------------


def _uri_encode(text: str) -> str:
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def _canonical_path(raw_path: str) -> str:
    # "Normalize URI paths according to RFC 3986 … each path segment must be URI-encoded twice":
    # the path arrives encoded once, so each segment as received is encoded once more.
    segments: list[str] = []
    for seg in raw_path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    trailing = "/" if raw_path.endswith("/") and segments else ""
    return "/" + "/".join(_uri_encode(s) for s in segments) + trailing


def _canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else ():
        k, _, v = item.partition("=")
        pairs.append((_uri_encode(unquote(k)), _uri_encode(unquote(v))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _signing_key(secret: str, day: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (day, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _verify_sigv4(request: web.Request, auth: str, body: bytes) -> web.Response | None:
    m = _AUTH.match(auth)
    if m is None:
        return _error(403, "IncompleteSignatureException", "Authorization header requires 'Credential', "
                      "'SignedHeaders' and 'Signature' parameters.")
    credential, signed_headers, signature = m.groups()
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return _error(403, "IncompleteSignatureException", "Credential should be scoped to a valid region. ")
    key_id, day, region, service, _ = scope
    if service != SERVICE:
        return _error(403, "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if key_id != ACCESS_KEY_ID:
        return _error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    amz_date = request.headers.get("X-Amz-Date", "")
    try:
        sent = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return _error(403, "IncompleteSignatureException", "Authorization header requires existence of either a "
                      "'X-Amz-Date' or a 'Date' header.")
    now = time.time()
    if sent < now - MAX_SKEW_SECONDS:
        fmt = "%Y%m%dT%H%M%SZ"
        return _error(403, "InvalidSignatureException",
                      f"Signature expired: {amz_date} is now earlier than "
                      f"{datetime.fromtimestamp(now - MAX_SKEW_SECONDS, UTC).strftime(fmt)} "
                      f"({datetime.fromtimestamp(now, UTC).strftime(fmt)} - 5 min.)")
    if sent > now + MAX_SKEW_SECONDS:
        fmt = "%Y%m%dT%H%M%SZ"
        return _error(403, "InvalidSignatureException",
                      f"Signature not yet current: {amz_date} is still later than "
                      f"{datetime.fromtimestamp(now + MAX_SKEW_SECONDS, UTC).strftime(fmt)} "
                      f"({datetime.fromtimestamp(now, UTC).strftime(fmt)} + 5 min.)")
    if day != amz_date[:8]:
        return _error(403, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from "
                      "ISO-8601 version of date from HTTP")
    names = signed_headers.split(";")
    if "host" not in names:
        return _error(403, "InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                      "Authorization.")
    lines = [f"{n}:{','.join(' '.join(v.split()) for v in request.headers.getall(n, []))}" for n in names]
    path, _, query = request.raw_path.partition("?")
    payload_hash = request.headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join([request.method, _canonical_path(path), _canonical_query(query), *lines, "",
                           signed_headers, payload_hash])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{day}/{region}/{SERVICE}/aws4_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(_signing_key(SECRET_ACCESS_KEY, day, region), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return _error(403, "InvalidSignatureException", "The request signature we calculated does not match the "
                      "signature you provided. Check your AWS Secret Access Key and signing method. Consult the "
                      "service documentation for details.")
    return None


def _auth(request: web.Request, body: bytes) -> web.Response | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        if auth[7:].strip() != state_of(request).api_key:
            return _error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        return None
    if not auth:
        return _error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    return _verify_sigv4(request, auth, body)


# -- the conversation -----------------------------------------------------------------------------


def _texts(blocks: list[Any]) -> str:
    return "".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str))


# The Converse request's members and types (Bedrock API reference, "Converse" and its data types);
# fields the fake does not read are ANY.
_SYSTEM_BLOCK = {"text": str, "guardContent": ANY, "cachePoint": ANY}
_BLOCK = {
    "text": str, "image": {"format": str, "source": {"bytes": str, "s3Location": ANY}}, "document": ANY,
    "video": ANY, "toolUse": {"!toolUseId": str, "!name": str, "!input": ANY},
    "toolResult": {"!toolUseId": str, "!content": [{"text": str, "json": ANY, "image": ANY, "document": ANY,
                                                     "video": ANY}], "status": str},
    "guardContent": ANY, "cachePoint": ANY, "citationsContent": ANY,
    "reasoningContent": {"reasoningText": {"!text": str, "signature": str}, "redactedContent": str},
}
_CONVERSE = {
    "messages": [{"!role": str, "!content": [_BLOCK]}], "system": [_SYSTEM_BLOCK],
    "inferenceConfig": {"maxTokens": int, "temperature": float, "topP": float, "stopSequences": [str]},
    "toolConfig": {"!tools": [{"toolSpec": {"!name": str, "description": str, "!inputSchema": {"json": ANY}},
                               "cachePoint": ANY}],
                   "toolChoice": {"auto": ANY, "any": ANY, "tool": {"!name": str}}},
    "guardrailConfig": ANY, "additionalModelRequestFields": ANY, "promptVariables": ANY,
    "additionalModelResponseFieldPaths": [str], "requestMetadata": MapOf(str), "performanceConfig": ANY,
}


def _aws_path(path: tuple[str | int, ...]) -> str:
    # AWS validation messages number list members from 1: 'messages.1.member.content'
    return ".".join(f"{p + 1}.member" if isinstance(p, int) else p for p in path)


def _shape_error(body: Any) -> web.Response | None:
    problem = check(body, _CONVERSE, strict=False)
    if problem is None:
        return None
    if problem.kind == "missing":
        at = _aws_path((*problem.path, problem.name))
        return _error(400, "ValidationException", f"1 validation error detected: Value null at '{at}' failed to "
                      "satisfy constraint: Member must not be null")
    return _error(400, "SerializationException", f"Unexpected value type at '{_aws_path(problem.path)}'")


def _validate(body: Any) -> web.Response | None:
    if not isinstance(body, dict):
        return _error(400, "SerializationException", "Unable to parse the request body as JSON.")
    shape_error = _shape_error(body)
    if shape_error is not None:
        return shape_error
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not isinstance(msgs[0], dict) or msgs[0].get("role") != "user":
        return _error(400, "ValidationException", "A conversation must start with a user message. Try again with a "
                      "conversation that starts with a user message.")
    uses_tools = False
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), list):
            return _error(400, "ValidationException", f"1 validation error detected: Value at 'messages.{i + 1}.member.role' "
                          "failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]")
        if i and msgs[i - 1].get("role") == m["role"]:
            return _error(400, "ValidationException", "A conversation must alternate between user and assistant roles. "
                          "Make sure the conversation alternates between user and assistant roles and try again.")
        for b in m["content"]:
            if not isinstance(b, dict) or len([k for k in b if k != "cachePoint"]) > 1:
                return _error(400, "ValidationException", "A ContentBlock must have exactly one member set.")
            if "text" in b and not str(b["text"]).strip():
                return _error(400, "ValidationException", "The text field in the ContentBlock object is blank. Add text to "
                              "the text field, and try again.")
            if "image" in b:
                try:
                    base64.b64decode(b["image"]["source"]["bytes"], validate=True)
                except (KeyError, TypeError, binascii.Error, ValueError):
                    return _error(400, "ValidationException", "The provided image bytes are invalid.")
            uses_tools = uses_tools or "toolUse" in b or "toolResult" in b
    if uses_tools and not body.get("toolConfig"):
        return _error(400, "ValidationException", "The toolConfig field must be defined when using toolUse and "
                      "toolResult content blocks.")
    # prompt caching (cache: marked edit): at most 4 cache checkpoints per request
    points = sum(s.breakpoint is not None for s in _segments(body))
    if points > 4:
        return _error(400, "ValidationException", f"The number of cache points ({points}) exceeds the maximum of 4 "
                      "cache points allowed per request.")
    inf = body.get("inferenceConfig") or {}
    t = inf.get("temperature")
    if t is not None and (not isinstance(t, int | float) or not 0 <= t <= 1):
        return _error(400, "ValidationException", "1 validation error detected: Value at 'inferenceConfig.temperature' "
                      "failed to satisfy constraint: Member must have value less than or equal to 1")
    mt = inf.get("maxTokens")
    if mt is not None and (not isinstance(mt, int) or mt < 1):
        return _error(400, "ValidationException", "1 validation error detected: Value at 'inferenceConfig.maxTokens' "
                      "failed to satisfy constraint: Member must have value greater than or equal to 1")
    return None


def _system_text(block: Any) -> str:
    """A system block's text; JSON null (which the shape check lets through, as proto3 JSON does) is none."""
    text = block.get("text") if isinstance(block, dict) else None
    return text if isinstance(text, str) else ""


def _decision(body: dict[str, Any]) -> tuple[Decision, int]:
    msgs = body["messages"]
    prompt_tokens = sum(count_tokens(_system_text(s)) for s in body.get("system") or ())
    for m in msgs:
        prompt_tokens += 3 + count_tokens(_texts(m["content"]))
    last = msgs[-1]
    tool_result = None
    results = [b["toolResult"] for b in last["content"] if "toolResult" in b] if last["role"] == "user" else []
    if results:
        r = results[-1]
        name = next((b["toolUse"]["name"] for m in msgs for b in m["content"]
                     if "toolUse" in b and b["toolUse"].get("toolUseId") == r.get("toolUseId")), "tool")
        content = "".join(c["text"] if "text" in c else json.dumps(c.get("json")) for c in r.get("content") or ())
        tool_result = (name, content)
    prompt = next((_texts(m["content"]) for m in reversed(msgs) if m["role"] == "user" and _texts(m["content"])), "")
    cfg = body.get("toolConfig") or {}
    tools = [(t["toolSpec"]["name"], (t["toolSpec"].get("inputSchema") or {}).get("json") or {})
             for t in cfg.get("tools") or () if isinstance(t, dict) and "toolSpec" in t]
    prompt_tokens += sum(count_tokens(json.dumps(t)) for t in cfg.get("tools") or ())
    choice_obj = cfg.get("toolChoice") or {"auto": {}}
    choice, forced = "auto", None
    if "any" in choice_obj:
        choice = "required"
    elif "tool" in choice_obj:
        choice, forced = "required", (choice_obj["tool"] or {}).get("name")
    inf = body.get("inferenceConfig") or {}
    thinking = ((body.get("additionalModelRequestFields") or {}).get("thinking") or {}).get("type") == "enabled"
    d = decide(prompt=prompt, tools=tools, choice=choice, forced_tool=forced, tool_result=tool_result,
               max_tokens=inf.get("maxTokens"), stop=inf.get("stopSequences") or (), thinking=thinking)
    return d, prompt_tokens


def _segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt in cache order (toolConfig.tools, system, messages); a ``cachePoint`` entry closes
    the segment before it."""
    out: list[Segment] = []

    def add(items: Any, tokens: Any, prefix: tuple[Any, ...] = ()) -> None:
        for item in items or ():
            if not isinstance(item, dict):
                continue
            point = item.get("cachePoint")
            if isinstance(point, dict):
                if out:
                    last = out[-1]
                    out[-1] = Segment(last.value, last.tokens, "1h" if point.get("ttl") == "1h" else "5m")
                continue
            out.append(Segment([*prefix, item], tokens(item)))

    add((body.get("toolConfig") or {}).get("tools"), lambda t: count_tokens(json.dumps(t)))
    add(body.get("system"), lambda b: count_tokens(_system_text(b)))
    for i, m in enumerate(body.get("messages") or ()):
        if isinstance(m, dict):
            add(m.get("content"), lambda b: count_tokens(_texts([b])), (i, m.get("role")))
    return out


_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _request_id(*seed: object) -> str:
    h = stable_id(*seed, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _stream_frames(d: Decision, usage: dict[str, Any], metrics: dict[str, Any], stop_reason: str, signature: str,
                   tool_id: str | None, args: str) -> list[bytes]:
    """The ConverseStream events of one answer, one event-stream message each."""
    frames = [_event("messageStart", {"role": "assistant"})]
    index = 0
    if d.reasoning:
        frames += [_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": piece}}})
                   for piece in split_for_stream(d.reasoning)]
        frames.append(_event("contentBlockDelta", {"contentBlockIndex": index,
                                                   "delta": {"reasoningContent": {"signature": signature}}}))
        frames.append(_event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    if d.text or not d.tool_name:
        frames += [_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
                   for piece in split_for_stream(d.text)]
        frames.append(_event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    if d.tool_name:
        frames.append(_event("contentBlockStart", {"contentBlockIndex": index,
                                                   "start": {"toolUse": {"toolUseId": tool_id, "name": d.tool_name}}}))
        frames += [_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": args[i:i + 8]}}})
                   for i in range(0, len(args), 8)]
        frames.append(_event("contentBlockStop", {"contentBlockIndex": index}))
    frames.append(_event("messageStop", {"stopReason": stop_reason}))
    frames.append(_event("metadata", {"usage": usage, "metrics": metrics}))
    return frames


class _Prepared(NamedTuple):
    """What a valid Converse body (and the model in its path) alone determine (see :func:`_prepare`)."""

    body: dict[str, Any]
    decision: tuple[Decision, int]
    """The rule's answer and the prompt tokens — used only when no answer is scripted."""
    seed: str
    segments: list[Segment]


def _prepare(body: dict[str, Any], model: str) -> _Prepared:
    token = SCRIPTED.set(None)
    try:
        decision = _decision(body)
    finally:
        SCRIPTED.reset(token)
    return _Prepared(body, decision, stable_id(model, body), _segments(body))


# Memos by (model, raw body) for bodies that passed validation: a load run (and most tests) repeats
# a handful of bodies, and validating, counting, deciding and framing again per request made the
# fake, not the client, the bottleneck. Bounded; what they keep is only read, never written.
_PREPARED: dict[tuple[str, bytes], _Prepared] = {}
_PREPARED_MAX = 1024
_FRAMES: dict[tuple[str, bytes, bytes], list[bytes]] = {}
_FRAMES_MAX = 256


@endpoint("chat")
async def _handle(call: Call) -> web.StreamResponse:
    request, fault = call.request, call.fault
    path = request.raw_path.partition("?")[0]
    encoded_model, _, action = path[len("/model/"):].rpartition("/")
    if action not in ("converse", "converse-stream") or not encoded_model:
        return _error(404, "UnknownOperationException", "")
    model = unquote(encoded_model)
    pkey = (model, call.raw)
    prep = _PREPARED.get(pkey)
    if prep is None:
        invalid = _validate(call.json)
        if invalid is not None:
            return invalid
        prep = remember(_PREPARED, pkey, _prepare(call.json, model), bound=_PREPARED_MAX)
    body = prep.body
    if not _MODEL_ID.match(model):
        return _error(400, "ValidationException", "The provided model identifier is invalid.")
    if _EMBEDDING_MODEL.search(model):
        return _error(400, "ValidationException", "This action doesn't support the model that you provided. Try "
                      "again with a supported text or chat model.")
    # A scripted answer replaces the rule for this request only, so it is never memoised.
    d, prompt_tokens = prep.decision if SCRIPTED.get() is None else _decision(body)
    if prompt_tokens > CONTEXT_WINDOW:
        return _error(400, "ValidationException", "Input is too long for requested model.")
    seed = prep.seed
    tool_id = "tooluse_" + stable_id(seed, d.tool_name, n=22) if d.tool_name else None
    args = json.dumps(d.tool_args, separators=(",", ":"), ensure_ascii=False) if d.tool_name else ""
    signature = base64.b64encode(hashlib.sha256(d.reasoning.encode()).digest()).decode() if d.reasoning else ""
    completion = count_tokens(d.reasoning) + count_tokens(d.text) + (count_tokens(args) + 3 if d.tool_name else 0)
    usage: dict[str, Any] = {"inputTokens": prompt_tokens, "outputTokens": completion, "totalTokens": prompt_tokens + completion}
    # prompt caching (cache: marked edit): "inputTokens" leaves out cache reads and writes, which
    # have their own counts; cacheDetails splits the writes by TTL ("1h before 5m")
    cached = prompt_cache(request).explicit(NAME, model, prep.segments)
    if cached.read or cached.write:
        read = min(cached.read, prompt_tokens)
        write = min(cached.write, prompt_tokens - read)
        write_1h = min(cached.write_1h, write)
        usage.update(inputTokens=prompt_tokens - read - write, cacheReadInputTokens=read, cacheWriteInputTokens=write)
        details = [{"ttl": ttl, "inputTokens": n} for ttl, n in (("1h", write_1h), ("5m", write - write_1h)) if n]
        if details:
            usage["cacheDetails"] = details
    metrics = {"latencyMs": 100 + completion}
    stop_reason = _STOP_REASONS[d.finish]
    headers = {"x-amzn-RequestId": _request_id(seed)}
    if action == "converse":
        content: list[dict[str, Any]] = []
        if d.reasoning:
            content.append({"reasoningContent": {"reasoningText": {"text": d.reasoning, "signature": signature}}})
        if d.text or not d.tool_name:
            content.append({"text": d.text})
        if d.tool_name:
            content.append({"toolUse": {"toolUseId": tool_id, "name": d.tool_name, "input": d.tool_args}})
        payload = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop_reason,
                   "usage": usage, "metrics": metrics}
        return await send_json(request, payload, fault, headers)
    # The events of an unscripted answer are a function of the model, the body and the usage: built
    # once per (model, body, usage) instead of one JSON encoding and two CRCs per event per request.
    fkey = None if SCRIPTED.get() is not None else (model, call.raw, compact_utf8(usage))
    frames = _FRAMES.get(fkey) if fkey else None
    if frames is None:
        frames = _stream_frames(d, usage, metrics, stop_reason, signature, tool_id, args)
        if fkey:
            remember(_FRAMES, fkey, frames, bound=_FRAMES_MAX)
    if fault is not None and fault.name == "malformed":
        # The shared writer's "malformed" is text; a binary stream is corrupted the binary way:
        # the second frame's payload is flipped, so its message CRC no longer matches.
        bad = bytearray(frames[1])
        bad[-6] ^= 0xFF
        frames, fault = [frames[0], bytes(bad), *frames[2:]], None
    return await send_stream(request, frames, content_type="application/vnd.amazon.eventstream", fault=fault,
                             error_frame=stream_error_frame, headers=headers)


async def _route(request: web.Request) -> web.StreamResponse:
    """Converse here; InvokeModel and its stream in :mod:`interlingua.fakes.bedrock_invoke` (which names
    the endpoint by model: a Titan embedding is ``embeddings``, not ``chat``)."""
    if request.raw_path.partition("?")[0].rpartition("/")[2] in ("invoke", "invoke-with-response-stream"):
        from .bedrock_invoke import handle

        return await handle(request)
    return await _handle(request)


def add_routes(app: web.Application) -> None:
    install(app)  # prompt-cache memory, one per server
    app.router.add_post("/model/{tail:.+}", _route)


SPEC = FakeSpec(
    name=NAME,
    base_path="",
    add_routes=add_routes,
    error_response=error_response,
    stream_error_frame=stream_error_frame,
    auth=_auth,
    not_found=lambda request: _error(404, "UnknownOperationException", ""),
)

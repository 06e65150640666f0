"""InvokeModel and InvokeModelWithResponseStream for the chat families whose native bodies are not
Anthropic's: Meta Llama, Mistral AI (text completion and chat completion), Amazon Nova, Amazon Titan Text,
Cohere Command R/R+, AI21 Labs Jamba, DeepSeek-R1 and OpenAI gpt-oss (:mod:`interlingua.fakes.bedrock_invoke`
routes them here; its docstring says what each serves).

Each body is checked against the model's schema first, with Bedrock's everit-style violations
("Malformed input request: #/max_gen_len: 8192 is not less or equal to 2048, please reformat your input
and try again."), then read as the equivalent Converse request and answered by the Converse path's rule
(:func:`interlingua.fakes.bedrock._decision`), so invoke and converse agree on text and tokens: a prompt
string (Llama, Mistral text completion, Titan, DeepSeek) is one user message whose text is the whole prompt.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._content import SCRIPTED, Decision, count_tokens, split_for_stream, stable_id
from ._server import Call, endpoint, send_json, send_stream
from .bedrock import CONTEXT_WINDOW, _decision, _error, _request_id, _validate
from .bedrock_invoke import (
    _b62,
    _base_id,
    _chunk,
    _error_frame_for,
    _json_type,
    _malformed,
    _model_and_action,
    _not_an_object,
)

__all__ = ["family", "invoke_native"]

_LLAMA = re.compile(r"^meta\.llama[34][a-z0-9-]*-v\d+(:\d+)?$")
_MISTRAL = re.compile(r"^mistral\.(mistral-7b-instruct|mixtral-8x7b-instruct|mistral-large-\d{4}|mistral-small-\d{4})"
                      r"-v\d+(:\d+)?$")
_NOVA = re.compile(r"^amazon\.nova-(micro|lite|pro|premier|2-lite)-v1(:0)?$")
_TITAN_TEXT = re.compile(r"^amazon\.titan-text-(express-v1|lite-v1|premier-v1:0)(:0:\d+k)?$")
_COHERE = re.compile(r"^cohere\.command-r(-plus)?-v1:0$")
_JAMBA = re.compile(r"^ai21\.jamba-(1-5-mini|1-5-large|instruct)-v1:0$")
_DEEPSEEK = re.compile(r"^deepseek\.r1-v1:0$")
_GPT_OSS = re.compile(r"^openai\.gpt-oss-(20b|120b)-1:0$")
_FAMILIES = (("llama", _LLAMA), ("mistral", _MISTRAL), ("nova", _NOVA), ("titan", _TITAN_TEXT), ("cohere", _COHERE),
             ("jamba", _JAMBA), ("deepseek", _DEEPSEEK), ("gpt-oss", _GPT_OSS))


def family(model: str) -> str | None:
    """``llama``, ``mistral``, ``nova``, ``titan``, ``cohere``, ``jamba``, ``deepseek`` or ``gpt-oss`` for a
    model id (or inference profile, or ARN) of a family served here; ``None`` otherwise."""
    base = _base_id(model)
    for name, pattern in _FAMILIES:
        if pattern.match(base):
            return name
    return None


# -- the schemas, and everit's words for a body that fails one ------------------------------------------


@dataclass(frozen=True)
class _S:
    """One node of a model's request schema, as much of JSON Schema as Bedrock's messages show."""

    type: str = ""
    """``String``, ``Integer``, ``Number``, ``Boolean``, ``JSONArray``, ``JSONObject``; empty: any."""
    props: dict[str, _S] | None = None
    required: tuple[str, ...] = ()
    closed: bool = True
    """An object whose other keys are ``extraneous key [k] is not permitted``."""
    items: _S | None = None
    min_items: int | None = None
    max_items: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None


def _num(x: float) -> str:
    return json.dumps(x)


def _violations(v: Any, s: _S, at: str = "#") -> list[str]:
    if s.type:
        got = _json_type(v)
        if got != s.type and not (s.type == "Number" and got in ("Integer", "BigDecimal")):
            return [f"{at}: expected type: {s.type}, found: {got}"]
    out: list[str] = []
    if s.enum is not None and not (isinstance(v, str) and v in s.enum):
        out.append(f"{at}: {json.dumps(v)} is not a valid enum value")
    if isinstance(v, int | float) and not isinstance(v, bool):
        if s.minimum is not None and v < s.minimum:
            out.append(f"{at}: {_num(v)} is not greater or equal to {_num(s.minimum)}")
        if s.maximum is not None and v > s.maximum:
            out.append(f"{at}: {_num(v)} is not less or equal to {_num(s.maximum)}")
    if isinstance(v, dict) and s.props is not None:
        out += [f"{at}: required key [{k}] not found" for k in s.required if k not in v]
        if s.closed:
            out += [f"{at}: extraneous key [{k}] is not permitted" for k in v if k not in s.props]
        for k, sub in s.props.items():
            if k in v:
                out += _violations(v[k], sub, f"{at}/{k}")
    if isinstance(v, list):
        if s.min_items is not None and len(v) < s.min_items:
            out.append(f"{at}: expected minimum item count: {s.min_items}, found: {len(v)}")
        if s.max_items is not None and len(v) > s.max_items:
            out.append(f"{at}: expected maximum item count: {s.max_items}, found: {len(v)}")
        if s.items is not None:
            for i, x in enumerate(v):
                out += _violations(x, s.items, f"{at}/{i}")
    return out


def _problem(body: Any, schema: _S) -> web.Response | None:
    early = _not_an_object(body)
    if early is not None:
        return early
    violations = _violations(body, schema)
    return _malformed(violations) if violations else None


_STR = _S("String")
_UNIT = _S("Number", minimum=0, maximum=1)
_STRINGS = _S("JSONArray", items=_STR)

# Meta Llama 3.x/4 ("Meta Llama models"): a prompt and three sampling fields (and images from 3.2 on);
# max_gen_len's 2048 is Bedrock's own answer to 8192 ("#/max_gen_len: 8192 is not less or equal to 2048").
_LLAMA_SCHEMA = _S("JSONObject", required=("prompt",), props={
    "prompt": _STR, "temperature": _UNIT, "top_p": _UNIT, "max_gen_len": _S("Integer", minimum=1, maximum=2048),
    "images": _STRINGS,
})
_LLAMA_DEFAULT_MAX = 512

# Mistral AI text completion: max_tokens' ceiling and default by model (the user guide's table)
_MISTRAL_LIMITS = {"mistral-7b-instruct": (8192, 512), "mixtral-8x7b-instruct": (4096, 512),
                   "mistral-large": (8192, 8192), "mistral-small": (8192, 8192)}


def _mistral_text_schema(ceiling: int) -> _S:
    return _S("JSONObject", required=("prompt",), props={
        "prompt": _STR, "max_tokens": _S("Integer", minimum=1, maximum=ceiling), "stop": _STRINGS,
        "temperature": _UNIT, "top_p": _UNIT, "top_k": _S("Integer", minimum=1, maximum=200),
    })


# Mistral AI chat completion (Mistral Large): OpenAI-like messages and tools
_MISTRAL_CHAT_SCHEMA = _S("JSONObject", required=("messages",), props={
    "messages": _S("JSONArray", min_items=1, items=_S("JSONObject", required=("role",), closed=False, props={
        "role": _S("String", enum=("system", "user", "assistant", "tool")), "tool_call_id": _STR,
        "tool_calls": _S("JSONArray", items=_S("JSONObject", closed=False, props={
            "id": _STR, "function": _S("JSONObject", closed=False, required=("name",), props={"name": _STR})})),
    })),
    "tools": _S("JSONArray", items=_S("JSONObject", required=("function",), closed=False, props={
        "type": _S("String", enum=("function",)),
        "function": _S("JSONObject", required=("name",), closed=False, props={
            "name": _STR, "description": _STR, "parameters": _S("JSONObject", closed=False, props={})}),
    })),
    "tool_choice": _S("String", enum=("auto", "any", "none")), "max_tokens": _S("Integer", minimum=1, maximum=8192),
    "top_p": _UNIT, "temperature": _UNIT,
})


# Amazon Nova (the Nova user guide's "Complete request schema"): Converse's request with base64 bytes, the
# Invoke names of the sampling fields (max_new_tokens, top_p, top_k) or the Converse ones, and no documents
def _nova_schema(max_new: int | None) -> _S:
    tokens = _S("Integer", minimum=1, maximum=max_new)
    text_block = {"text": _STR, "cachePoint": _S("JSONObject", closed=False, props={})}
    block = _S("JSONObject", props={
        **text_block, "image": _S("JSONObject", closed=False, props={}), "video": _S("JSONObject", closed=False, props={}),
        "toolUse": _S("JSONObject", required=("toolUseId", "name", "input"), props={
            "toolUseId": _STR, "name": _STR, "input": _S()}),
        "toolResult": _S("JSONObject", required=("toolUseId", "content"), props={
            "toolUseId": _STR, "status": _STR,
            "content": _S("JSONArray", items=_S("JSONObject", props={"text": _STR, "json": _S(),
                                                                     "image": _S("JSONObject", closed=False,
                                                                                 props={})}))}),
        "reasoningContent": _S("JSONObject", closed=False, props={}),
    })
    return _S("JSONObject", required=("messages",), props={
        "schemaVersion": _S("String", enum=("messages-v1",)),
        "system": _S("JSONArray", items=_S("JSONObject", props=text_block)),
        "messages": _S("JSONArray", items=_S("JSONObject", required=("role", "content"), props={
            "role": _S("String", enum=("user", "assistant")), "content": _S("JSONArray", items=block)})),
        "inferenceConfig": _S("JSONObject", props={
            "max_new_tokens": tokens, "maxTokens": tokens, "temperature": _UNIT, "top_p": _UNIT, "topP": _UNIT,
            "top_k": _S("Integer", minimum=0, maximum=500), "topK": _S("Integer", minimum=0, maximum=500),
            "stopSequences": _STRINGS, "reasoningConfig": _S("JSONObject", closed=False, props={})}),
        "toolConfig": _S("JSONObject", required=("tools",), props={
            "tools": _S("JSONArray", items=_S("JSONObject", required=("toolSpec",), props={
                "toolSpec": _S("JSONObject", required=("name", "inputSchema"), props={
                    "name": _STR, "description": _STR,
                    "inputSchema": _S("JSONObject", required=("json",), props={"json": _S("JSONObject", closed=False,
                                                                                           props={})})})})),
            "toolChoice": _S("JSONObject", props={"auto": _S("JSONObject", props={}),
                                                  "any": _S("JSONObject", props={}),
                                                  "tool": _S("JSONObject", required=("name",), props={"name": _STR})}),
        }),
    })


# Amazon Titan Text: maxTokenCount's ceiling by model ("Amazon Titan Text models"), 512 by default
_TITAN_MAX = {"express": 8192, "lite": 4096, "premier": 3072}
_TITAN_DEFAULT_MAX = 512


def _titan_schema(ceiling: int) -> _S:
    return _S("JSONObject", required=("inputText",), props={
        "inputText": _STR,
        "textGenerationConfig": _S("JSONObject", props={
            "temperature": _UNIT, "topP": _UNIT, "maxTokenCount": _S("Integer", minimum=0, maximum=ceiling),
            "stopSequences": _STRINGS}),
    })


_BOOL = _S("Boolean")
_OBJECT = _S("JSONObject", closed=False, props={})

# Cohere Command R and R+ ("Cohere Command R and Command R+ models"): Cohere's v1 chat body without ``model``
# and ``stream``, the sampling ranges of the user guide's tables
_COHERE_SCHEMA = _S("JSONObject", required=("message",), props={
    "message": _STR,
    "chat_history": _S("JSONArray", items=_S("JSONObject", required=("role", "message"), closed=False, props={
        "role": _S("String", enum=("USER", "CHATBOT")), "message": _STR})),
    "documents": _S("JSONArray", items=_OBJECT), "search_queries_only": _BOOL, "preamble": _STR,
    "max_tokens": _S("Integer", minimum=1, maximum=4000), "temperature": _UNIT,
    "p": _S("Number", minimum=0.01, maximum=0.99), "k": _S("Number", minimum=0, maximum=500),
    "prompt_truncation": _S("String", enum=("OFF", "AUTO_PRESERVE_ORDER")), "frequency_penalty": _UNIT,
    "presence_penalty": _UNIT, "seed": _S("Integer"), "return_prompt": _BOOL,
    "tools": _S("JSONArray", items=_S("JSONObject", required=("name",), props={
        "name": _STR, "description": _STR, "parameter_definitions": _S("JSONObject", closed=False, props={})})),
    "tool_results": _S("JSONArray", items=_S("JSONObject", required=("call", "outputs"), props={
        "call": _S("JSONObject", required=("name",), closed=False, props={"name": _STR, "parameters": _OBJECT}),
        "outputs": _S("JSONArray", items=_OBJECT)})),
    "stop_sequences": _S("JSONArray", items=_STR, max_items=4), "raw_prompting": _BOOL,
})

_OPENAI_TOOLS = _S("JSONArray", items=_S("JSONObject", required=("function",), closed=False, props={
    "type": _S("String", enum=("function",)),
    "function": _S("JSONObject", required=("name",), closed=False, props={
        "name": _STR, "description": _STR, "parameters": _OBJECT}),
}))


def _chat_messages(roles: tuple[str, ...]) -> _S:
    return _S("JSONArray", min_items=1, items=_S("JSONObject", required=("role",), closed=False, props={
        "role": _S("String", enum=roles), "tool_call_id": _STR,
        "tool_calls": _S("JSONArray", items=_S("JSONObject", closed=False, props={
            "id": _STR, "function": _S("JSONObject", closed=False, required=("name",), props={"name": _STR})})),
    }))


# AI21 Labs Jamba ("AI21 Labs Jamba models"): the chat completion body, max_tokens 0-4096 (4096 by default),
# temperature 0-2, n 1-16
_JAMBA_SCHEMA = _S("JSONObject", required=("messages",), props={
    "messages": _chat_messages(("system", "user", "assistant", "tool")),
    "max_tokens": _S("Integer", minimum=0, maximum=4096), "temperature": _S("Number", minimum=0, maximum=2),
    "top_p": _UNIT, "stop": _S(), "n": _S("Integer", minimum=1, maximum=16),
    "frequency_penalty": _S("Number"), "presence_penalty": _S("Number"), "tools": _OPENAI_TOOLS,
    "response_format": _S("JSONObject", required=("type",), props={"type": _S("String", enum=("text", "json_object"))}),
    "documents": _S("JSONArray", items=_OBJECT),
})
_JAMBA_DEFAULT_MAX = 4096

# DeepSeek-R1 ("DeepSeek models"): a prompt, temperature and top_p at most 1, max_tokens 1-32,768, up to 10 stops
_DEEPSEEK_SCHEMA = _S("JSONObject", required=("prompt",), props={
    "prompt": _STR, "temperature": _UNIT, "top_p": _UNIT, "max_tokens": _S("Integer", minimum=1, maximum=32768),
    "stop": _S("JSONArray", items=_STR, max_items=10),
})

# OpenAI gpt-oss ("OpenAI models"): OpenAI's Create chat completion body, which takes many more members than
# these (so the object stays open); ``model`` and ``stream`` are checked against the call after the schema
_GPT_OSS_SCHEMA = _S("JSONObject", required=("messages",), closed=False, props={
    "messages": _chat_messages(("system", "developer", "user", "assistant", "tool")), "model": _STR,
    "stream": _BOOL, "max_tokens": _S("Integer", minimum=1), "max_completion_tokens": _S("Integer", minimum=1),
    "temperature": _S("Number", minimum=0, maximum=2), "top_p": _UNIT, "stop": _S(), "tools": _OPENAI_TOOLS,
})


# -- the answer -------------------------------------------------------------------------------------------


@dataclass
class _Answer:
    """What the rule decided, in the counts every family reports."""

    d: Decision
    prompt: int
    sequence: str | None = None
    """The stop sequence that ended the text, if one did."""
    args: str = ""
    completion: int = field(init=False)

    def __post_init__(self) -> None:
        if self.d.tool_name:
            self.args = json.dumps(self.d.tool_args, separators=(",", ":"), ensure_ascii=False)
        self.completion = (count_tokens(self.d.reasoning) + count_tokens(self.d.text)
                           + (count_tokens(self.args) + 3 if self.d.tool_name else 0))


def _decide(conv: dict[str, Any], stops: list[str], extra: int = 0) -> _Answer:
    """The Converse path's answer to ``conv`` (its ``inferenceConfig`` without stop sequences), cut at
    ``stops``; ``extra`` prompt tokens the Converse form leaves out."""
    inference = dict(conv.get("inferenceConfig") or {})
    with_stops = {**conv, "inferenceConfig": {**inference, "stopSequences": stops}} if stops else conv
    d, prompt = _decision(with_stops)
    sequence = None
    if stops and d.finish == "stop" and not d.tool_name and SCRIPTED.get() is None:
        full = _decision(conv)[0].text
        sequence = next((s for s in stops if s and s in full), None)
    return _Answer(d, prompt + extra, sequence)


def _one_user_message(text: str, max_tokens: int | None) -> dict[str, Any]:
    conv: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": text}]}]}
    if max_tokens is not None:
        conv["inferenceConfig"] = {"maxTokens": max_tokens}
    return conv


def _stops(value: Any) -> list[str]:
    return [s for s in value if isinstance(s, str) and s] if isinstance(value, list) else []


@dataclass
class _Reply:
    """One family's answer: the JSON body of ``/invoke`` and the chunks of the stream (each a JSON
    object; the last gets ``amazon-bedrock-invocationMetrics``)."""

    body: dict[str, Any]
    chunks: list[dict[str, Any]]


def _running(pieces: list[str]) -> list[int]:
    """The tokens of the text so far, after each piece."""
    out, text = [], ""
    for p in pieces:
        text += p
        out.append(count_tokens(text))
    return out


def _llama(a: _Answer) -> _Reply:
    reason = "length" if a.d.finish == "length" else "stop"
    body = {"generation": a.d.text, "prompt_token_count": a.prompt, "generation_token_count": a.completion,
            "stop_reason": reason}
    pieces = split_for_stream(a.d.text)
    chunks: list[dict[str, Any]] = [
        {"generation": p, "prompt_token_count": a.prompt if i == 0 else None, "generation_token_count": n,
         "stop_reason": None} for i, (p, n) in enumerate(zip(pieces, _running(pieces), strict=True))]
    chunks.append({"generation": "", "prompt_token_count": None if pieces else a.prompt,
                   "generation_token_count": a.completion, "stop_reason": reason})
    return _Reply(body, chunks)


def _text_completion(a: _Answer, key: str) -> _Reply:
    """Mistral's (``outputs``) and DeepSeek-R1's (``choices``) text completion: ``{key: [{"text", "stop_reason"}]}``,
    streamed one piece per chunk (``stop_reason`` null) and a last empty one with the stop reason."""
    reason = "length" if a.d.finish == "length" else "stop"
    chunks: list[dict[str, Any]] = [{key: [{"text": p, "stop_reason": None}]} for p in split_for_stream(a.d.text)]
    chunks.append({key: [{"text": "", "stop_reason": reason}]})
    return _Reply({key: [{"text": a.d.text, "stop_reason": reason}]}, chunks)


def _openai_finish(d: Decision) -> str:
    """The OpenAI-style ``finish_reason``/``stop_reason`` of an answer (Mistral Large's chat, Jamba, gpt-oss)."""
    return "tool_calls" if d.tool_name else "length" if d.finish == "length" else "stop"


def _titan(a: _Answer) -> _Reply:
    reason = "LENGTH" if a.d.finish == "length" else "STOP_CRITERIA_MET" if a.sequence else "FINISH"
    body = {"inputTextTokenCount": a.prompt,
            "results": [{"tokenCount": a.completion, "outputText": a.d.text, "completionReason": reason}]}
    pieces = split_for_stream(a.d.text) or [""]
    chunks: list[dict[str, Any]] = [
        {"outputText": p, "index": 0, "totalOutputTextTokenCount": None, "completionReason": None,
         "inputTextTokenCount": a.prompt if i == 0 else None} for i, p in enumerate(pieces)]
    chunks[-1].update(totalOutputTextTokenCount=a.completion, completionReason=reason)
    return _Reply(body, chunks)


_NOVA_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _nova(a: _Answer, seed: str) -> _Reply:
    d = a.d
    tool_id = "tooluse_" + stable_id(seed, d.tool_name, n=22) if d.tool_name else None
    content: list[dict[str, Any]] = []
    if d.text or not d.tool_name:
        content.append({"text": d.text})
    if d.tool_name:
        content.append({"toolUse": {"toolUseId": tool_id, "name": d.tool_name, "input": d.tool_args or {}}})
    stop = _NOVA_STOP.get(d.finish, "end_turn")
    usage = {"inputTokens": a.prompt, "outputTokens": a.completion, "totalTokens": a.prompt + a.completion,
             "cacheReadInputTokenCount": 0, "cacheWriteInputTokenCount": 0}
    body = {"output": {"message": {"content": content, "role": "assistant"}}, "stopReason": stop, "usage": usage}
    chunks: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    index = 0
    if d.text or not d.tool_name:
        chunks += [{"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": index}}
                   for p in split_for_stream(d.text)]
        chunks.append({"contentBlockStop": {"contentBlockIndex": index}})
        index += 1
    if d.tool_name:
        chunks.append({"contentBlockStart": {"start": {"toolUse": {"toolUseId": tool_id, "name": d.tool_name}},
                                             "contentBlockIndex": index}})
        chunks += [{"contentBlockDelta": {"delta": {"toolUse": {"input": a.args[k:k + 8]}}, "contentBlockIndex": index}}
                   for k in range(0, len(a.args), 8)]
        chunks.append({"contentBlockStop": {"contentBlockIndex": index}})
    chunks.append({"messageStop": {"stopReason": stop}})
    chunks.append({"metadata": {"usage": usage, "metrics": {}, "trace": {}}})
    return _Reply(body, chunks)


def _mistral_chat(a: _Answer, seed: str) -> _Reply:
    d = a.d
    reason = _openai_finish(d)
    message: dict[str, Any] = {"role": "assistant", "content": d.text}
    if d.tool_name:
        call = {"id": _b62(seed + d.tool_name, 22), "function": {"name": d.tool_name, "arguments": a.args}}
        message["tool_calls"] = [call]
    body = {"choices": [{"index": 0, "message": message, "stop_reason": reason}]}
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": p}, "stop_reason": None}]}
        for p in split_for_stream(d.text)]
    if d.tool_name:
        chunks.append({"choices": [{"index": 0, "message": {"role": "assistant", "content": "",
                                                            "tool_calls": message["tool_calls"]},
                                    "stop_reason": None}]})
    chunks.append({"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "stop_reason": reason}]})
    return _Reply(body, chunks)


def _uuid(seed: str) -> str:
    h = stable_id(seed, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _cohere(a: _Answer, seed: str, body: dict[str, Any]) -> _Reply:
    d = a.d
    reason = "MAX_TOKENS" if d.finish == "length" else "COMPLETE"
    calls = [{"name": d.tool_name, "parameters": d.tool_args or {}}] if d.tool_name else []
    turn: dict[str, Any] = {"role": "CHATBOT", "message": d.text}
    if calls:
        turn["tool_calls"] = calls
    history = [*(body.get("chat_history") or ()), {"role": "USER", "message": body["message"]}, turn]
    generation = _uuid(seed + "generation")
    answer: dict[str, Any] = {"response_id": _uuid(seed + "response"), "text": d.text, "generation_id": generation,
                              "chat_history": history, "finish_reason": reason}
    if calls:
        answer["tool_calls"] = calls
    if body.get("return_prompt") is True:
        answer["prompt"] = _cohere_prompt(body)
    chunks: list[dict[str, Any]] = [{"is_finished": False, "event_type": "stream-start", "generation_id": generation}]
    chunks += [{"is_finished": False, "event_type": "text-generation", "text": p} for p in split_for_stream(d.text)]
    if calls:
        chunks.append({"is_finished": False, "event_type": "tool-calls-generation", "text": d.text, "tool_calls": calls})
    # "meta: API usage data (only exists for streaming)": the streamed answer carries Cohere's billed units
    meta = {"api_version": {"version": "1"}, "billed_units": {"input_tokens": a.prompt, "output_tokens": a.completion}}
    chunks.append({"is_finished": True, "event_type": "stream-end", "response": {**answer, "meta": meta},
                   "finish_reason": reason})
    return _Reply(answer, chunks)


def _cohere_prompt(body: dict[str, Any]) -> str:
    """``return_prompt``: "the full prompt that was sent to the model", in Command R's documented turn tokens."""
    turn = "<|START_OF_TURN_TOKEN|>{}<|END_OF_TURN_TOKEN|>"
    parts = ["<BOS_TOKEN>"]
    if body.get("preamble"):
        parts.append(turn.format("<|SYSTEM_TOKEN|>" + body["preamble"]))
    for t in body.get("chat_history") or ():
        parts.append(turn.format(("<|USER_TOKEN|>" if t["role"] == "USER" else "<|CHATBOT_TOKEN|>") + t["message"]))
    parts.append(turn.format("<|USER_TOKEN|>" + body["message"]))
    return "".join(parts) + "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"


_JAMBA_NAMES = {"1-5-mini": "jamba-1.5-mini", "1-5-large": "jamba-1.5-large", "instruct": "jamba-instruct"}


def _openai_call(seed: str, a: _Answer) -> dict[str, Any]:
    return {"id": "call_" + _b62(seed + (a.d.tool_name or ""), 24), "type": "function",
            "function": {"name": a.d.tool_name, "arguments": a.args}}


def _jamba(a: _Answer, seed: str, base: str, n: int) -> _Reply:
    d = a.d
    reason = _openai_finish(d)
    message: dict[str, Any] = {"role": "assistant", "content": d.text,
                               "tool_calls": [_openai_call(seed, a)] if d.tool_name else None}
    usage = {"prompt_tokens": a.prompt, "completion_tokens": a.completion * n, "total_tokens": a.prompt + a.completion * n}
    rid = "chatcmpl-" + _uuid(seed)
    name = next(v for k, v in _JAMBA_NAMES.items() if f"jamba-{k}-" in base)
    body = {"id": rid, "choices": [{"index": i, "message": message, "finish_reason": reason} for i in range(n)],
            "usage": usage, "meta": {"requestDurationMillis": 100 + a.completion}, "model": name}
    chunks: list[dict[str, Any]] = []
    for i in range(n):
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": p} for p in split_for_stream(d.text)]
        if d.tool_name:
            deltas.append({"tool_calls": [{"index": 0, **_openai_call(seed, a)}]})
        chunks += [{"id": rid, "choices": [{"index": i, "delta": x, "finish_reason": None}], "usage": None}
                   for x in deltas]
        chunks.append({"id": rid, "choices": [{"index": i, "delta": {}, "finish_reason": reason}], "usage": None})
    chunks[-1]["usage"] = usage
    return _Reply(body, chunks)


def _gpt_oss(a: _Answer, seed: str, model: str) -> _Reply:
    d = a.d
    reason = _openai_finish(d)
    message: dict[str, Any] = {"role": "assistant", "content": d.text}
    if d.tool_name:
        message["tool_calls"] = [_openai_call(seed, a)]
    body = {"id": "chatcmpl-" + stable_id(seed, n=32), "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": {"prompt_tokens": a.prompt, "completion_tokens": a.completion,
                      "total_tokens": a.prompt + a.completion}}
    return _Reply(body, [])


# -- each family's body read as the Converse request it means ----------------------------------------------


def _mistral_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _mistral_chat_conv(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The Converse request of an OpenAI-style chat body (Mistral Large's, Jamba's, gpt-oss's: a ``developer``
    message is system text too; ``tool_choice`` ``any``/``required`` or a named function), and the prompt tokens
    of tools ``tool_choice: none`` leaves out of it (counted, not offered, as on the Claude path)."""
    system: list[dict[str, Any]] = []
    msgs: list[dict[str, Any]] = []
    for m in body["messages"]:
        role, text = m["role"], _mistral_content(m.get("content"))
        if role in ("system", "developer"):
            system.append({"text": text})
        elif role == "tool":
            block = {"toolResult": {"toolUseId": str(m.get("tool_call_id") or ""), "content": [{"text": text}]}}
            if msgs and msgs[-1]["role"] == "user" and all("toolResult" in b for b in msgs[-1]["content"]):
                msgs[-1]["content"].append(block)
            else:
                msgs.append({"role": "user", "content": [block]})
        else:
            blocks: list[dict[str, Any]] = [{"text": text}] if text else []
            for c in (m.get("tool_calls") or ()) if role == "assistant" else ():
                fn = c.get("function") or {}
                args = fn.get("arguments")
                try:
                    parsed = json.loads(args) if isinstance(args, str) else args
                except (ValueError, RecursionError):
                    parsed = {}
                blocks.append({"toolUse": {"toolUseId": str(c.get("id") or ""), "name": str(fn.get("name") or ""),
                                           "input": parsed if isinstance(parsed, dict) else {}}})
            msgs.append({"role": role, "content": blocks})
    conv: dict[str, Any] = {"messages": msgs or [{"role": "user", "content": []}], "system": system}
    tools = [{"toolSpec": {"name": t["function"]["name"], "inputSchema": {"json": t["function"].get("parameters") or {}},
                           **({"description": t["function"]["description"]}
                              if t["function"].get("description") else {})}}
             for t in body.get("tools") or ()]
    extra = 0
    choice = body.get("tool_choice", "auto")
    if tools and choice == "none":
        extra = sum(count_tokens(json.dumps(t)) for t in tools)
    elif tools:
        function = choice.get("function") if isinstance(choice, dict) else None
        forced = function.get("name") if isinstance(function, dict) else None
        conv["toolConfig"] = {"tools": tools, "toolChoice": {"tool": {"name": forced}} if forced else
                              {"any": {}} if choice in ("any", "required") else {"auto": {}}}
    tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if tokens is not None:
        conv["inferenceConfig"] = {"maxTokens": tokens}
    return conv, extra


_COHERE_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "list": "array",
                 "dict": "object"}


def _cohere_conv(body: dict[str, Any]) -> dict[str, Any]:
    """The Converse request of a Cohere chat body: the preamble is the system prompt, the history's USER and
    CHATBOT turns user and assistant messages (a run of one role merged), tool results an assistant turn
    calling each tool and a user turn with their outputs, and the message the last user turn."""
    msgs: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if msgs and msgs[-1]["role"] == role:
            msgs[-1]["content"] += blocks
        else:
            msgs.append({"role": role, "content": blocks})

    for turn in body.get("chat_history") or ():
        add("user" if turn["role"] == "USER" else "assistant", [{"text": turn["message"]}])
    results = body.get("tool_results") or []
    if results:
        add("assistant", [{"toolUse": {"toolUseId": f"c{i}", "name": r["call"]["name"],
                                       "input": r["call"].get("parameters") or {}}} for i, r in enumerate(results)])
        add("user", [{"toolResult": {"toolUseId": f"c{i}", "content": [{"text": json.dumps(o)} for o in r["outputs"]]}}
                     for i, r in enumerate(results)])
    if body["message"] or not results:
        add("user", [{"text": body["message"]}])
    conv: dict[str, Any] = {"messages": msgs, "system": [{"text": body["preamble"]}] if body.get("preamble") else []}
    tools = []
    for t in body.get("tools") or ():
        params = {k: v for k, v in (t.get("parameter_definitions") or {}).items() if isinstance(v, dict)}
        schema = {"type": "object", "properties": {
            k: {"type": _COHERE_TYPES.get(str(v.get("type")), v.get("type") or "string"),
                **({"description": v["description"]} if isinstance(v.get("description"), str) else {})}
            for k, v in params.items()}, "required": [k for k, v in params.items() if v.get("required") is True]}
        tools.append({"toolSpec": {"name": t["name"], "inputSchema": {"json": schema},
                                   **({"description": t["description"]} if t.get("description") else {})}})
    if tools:
        conv["toolConfig"] = {"tools": tools}
    if "max_tokens" in body:
        conv["inferenceConfig"] = {"maxTokens": body["max_tokens"]}
    return conv


def _nova_conv(body: dict[str, Any]) -> dict[str, Any]:
    """The Converse request a Nova body is (Converse's field names for the sampling values it reads)."""
    conv: dict[str, Any] = {"messages": [{"role": m["role"], "content": [
        {k: v for k, v in b.items() if k != "cachePoint"} or b for b in m["content"]]} for m in body["messages"]]}
    if body.get("system"):
        conv["system"] = [{"text": b.get("text", "")} for b in body["system"] if "text" in b]
    if body.get("toolConfig"):
        conv["toolConfig"] = body["toolConfig"]
    inf = body.get("inferenceConfig") or {}
    tokens = inf.get("max_new_tokens", inf.get("maxTokens"))
    if tokens is not None:
        conv["inferenceConfig"] = {"maxTokens": tokens}
    return conv


def _answer_for(fam: str, base: str, body: Any) -> tuple[web.Response | None, _Answer | None, str]:
    """A refusal, or the answer and the body's kind (``llama``, ``mistral``, ``mistral-chat``, ``nova``,
    ``titan``, ``cohere``, ``jamba``, ``deepseek``, ``gpt-oss``)."""
    if fam == "llama":
        problem = _problem(body, _LLAMA_SCHEMA)
        if problem is not None:
            return problem, None, fam
        mt = body.get("max_gen_len", _LLAMA_DEFAULT_MAX)
        return None, _decide(_one_user_message(body["prompt"], mt), []), fam
    if fam == "mistral":
        kind = next(k for k in _MISTRAL_LIMITS if base.startswith(f"mistral.{k}"))
        ceiling, default = _MISTRAL_LIMITS[kind]
        if kind == "mistral-large" and isinstance(body, dict) and "messages" in body and "prompt" not in body:
            problem = _problem(body, _MISTRAL_CHAT_SCHEMA)
            if problem is not None:
                return problem, None, "mistral-chat"
            conv, extra = _mistral_chat_conv(body)
            return None, _decide(conv, [], extra), "mistral-chat"
        problem = _problem(body, _mistral_text_schema(ceiling))
        if problem is not None:
            return problem, None, fam
        conv = _one_user_message(body["prompt"], body.get("max_tokens", default))
        return None, _decide(conv, _stops(body.get("stop"))), fam
    if fam == "nova":
        problem = _problem(body, _nova_schema(None if "premier" in base or "nova-2" in base else 5000))
        if problem is not None:
            return problem, None, fam
        conv = _nova_conv(body)
        invalid = _validate(conv)
        if invalid is not None:
            return invalid, None, fam
        return None, _decide(conv, _stops((body.get("inferenceConfig") or {}).get("stopSequences"))), fam
    if fam == "cohere":
        problem = _problem(body, _COHERE_SCHEMA)
        if problem is not None:
            return problem, None, fam
        return None, _decide(_cohere_conv(body), _stops(body.get("stop_sequences"))), fam
    if fam in ("jamba", "gpt-oss"):
        problem = _problem(body, _JAMBA_SCHEMA if fam == "jamba" else _GPT_OSS_SCHEMA)
        if problem is not None:
            return problem, None, fam
        conv, extra = _mistral_chat_conv(body)
        if fam == "jamba":
            conv["inferenceConfig"] = {"maxTokens": body.get("max_tokens", _JAMBA_DEFAULT_MAX)}
        stop = body.get("stop")
        return None, _decide(conv, [stop] if isinstance(stop, str) and stop else _stops(stop), extra), fam
    if fam == "deepseek":
        problem = _problem(body, _DEEPSEEK_SCHEMA)
        if problem is not None:
            return problem, None, fam
        conv = _one_user_message(body["prompt"], body.get("max_tokens"))
        return None, _decide(conv, _stops(body.get("stop"))), fam
    ceiling = next(v for k, v in _TITAN_MAX.items() if f"-{k}-" in base)
    problem = _problem(body, _titan_schema(ceiling))
    if problem is not None:
        return problem, None, fam
    cfg = body.get("textGenerationConfig") or {}
    conv = _one_user_message(body["inputText"], cfg.get("maxTokenCount", _TITAN_DEFAULT_MAX))
    return None, _decide(conv, _stops(cfg.get("stopSequences"))), fam


def _gpt_oss_mismatch(body: dict[str, Any], model: str, base: str) -> web.Response | None:
    """The OpenAI models page: ``model``, if given, "must match the value in the header", and ``stream``
    "must match the API operation" (false on InvokeModel)."""
    if body.get("stream") is True:
        return _error(400, "ValidationException", "The model is unsupported for streaming.")
    if "model" in body and body["model"] not in (model, base):
        return _error(400, "ValidationException", "The provided model identifier is invalid.")
    return None


@endpoint("chat")
async def invoke_native(call: Call) -> web.StreamResponse:
    """``/invoke`` and ``/invoke-with-response-stream`` for a model :func:`family` names."""
    request, fault = call.request, call.fault
    model, action = _model_and_action(request)
    fam = family(model) or "llama"
    base = _base_id(model)
    if fam == "deepseek" and base == model:
        # "Since this model is invoked through cross-Region inference, you will need to use the Inference
        # profile ID as the model ID" (DeepSeek models); Bedrock's words for an on-demand call of such a model
        return _error(400, "ValidationException", f"Invocation of model ID {model} with on-demand throughput isn\u2019t "
                      "supported. Retry your request with the ID or ARN of an inference profile that contains this model.")
    if action == "invoke-with-response-stream" and (base.startswith("meta.llama4") or fam == "gpt-oss"):
        # "You can't use InvokeModelWithResponseStream or ConverseStream with Llama 4 Instruct."; gpt-oss on
        # InvokeModelWithResponseStream answers the same (langchain-aws#573, LiteLLM#13346: no streaming)
        return _error(400, "ValidationException", "The model is unsupported for streaming.")
    refusal, answer, kind = _answer_for(fam, base, call.body)
    if refusal is None and fam == "gpt-oss":
        refusal = _gpt_oss_mismatch(call.body, model, base)
    if refusal is not None or answer is None:
        return refusal or _error(400, "ValidationException", "The request failed validation.")
    if answer.prompt > CONTEXT_WINDOW:
        return _error(400, "ValidationException", "Input is too long for requested model.")
    seed = stable_id(model, call.body)
    if kind == "nova":
        reply = _nova(answer, seed)
    elif kind == "mistral-chat":
        reply = _mistral_chat(answer, seed)
    elif kind == "cohere":
        reply = _cohere(answer, seed, call.body)
    elif kind == "jamba":
        reply = _jamba(answer, seed, base, call.body.get("n", 1))
        answer.completion *= call.body.get("n", 1)
    elif kind == "gpt-oss":
        reply = _gpt_oss(answer, seed, model)
    else:
        replies: dict[str, Callable[[_Answer], _Reply]] = {
            "llama": _llama, "titan": _titan, "mistral": functools.partial(_text_completion, key="outputs"),
            "deepseek": functools.partial(_text_completion, key="choices")}
        reply = replies[kind](answer)
    latency = 100 + answer.completion
    headers = {"x-amzn-RequestId": _request_id(seed, action)}
    if action == "invoke":
        headers.update({"x-amzn-bedrock-invocation-latency": str(latency),
                        "x-amzn-bedrock-output-token-count": str(answer.completion),
                        "x-amzn-bedrock-input-token-count": str(answer.prompt)})
        return await send_json(request, reply.body, fault, headers)
    metrics = {"inputTokenCount": answer.prompt, "outputTokenCount": answer.completion,
               "invocationLatency": latency, "firstByteLatency": 100}
    reply.chunks[-1]["amazon-bedrock-invocationMetrics"] = metrics
    frames = [_chunk(c) for c in reply.chunks]
    if fault is not None and fault.name == "malformed":
        # as on converse-stream: a frame's payload flipped, so its message CRC no longer matches
        at = 1 if len(frames) > 1 else 0
        bad = bytearray(frames[at])
        bad[-6] ^= 0xFF
        frames, fault = [*frames[:at], bytes(bad), *frames[at + 1:]], None
    error_frame = _error_frame_for(fault.value if fault is not None and fault.name == "error-event" else None)
    return await send_stream(request, frames, content_type="application/vnd.amazon.eventstream", fault=fault,
                             error_frame=error_frame,
                             headers={**headers, "X-Amzn-Bedrock-Content-Type": "application/json"})

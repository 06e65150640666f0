"""The response cache's pure half: the key, the stored entry, the replay of an answer as chunks."""

from __future__ import annotations

import random
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import (
    CacheControl,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    FinishReason,
    Message,
    ReasoningConfig,
    ResponseFormat,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from interlingua.core.cache import (
    ENTRY_VERSION,
    CacheEntry,
    decode_entry,
    encode_entry,
    replay_chunks,
    request_key,
)
from interlingua.core.fold import fold_chunks
from interlingua.core.schema import assistant_text

from .strategies import chat_request, ident, json_scalar, text

URL = "https://api.openai.com/v1"

nested = st.recursive(json_scalar, lambda inner: st.dictionaries(ident, inner, max_size=4) | st.lists(inner, max_size=3), max_leaves=12)
options = st.dictionaries(ident, nested, max_size=4)


def _shuffled(value: Any, rnd: random.Random) -> Any:
    """The same JSON value with every mapping's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]
    return value


@settings(max_examples=150, deadline=None)
@given(chat_request(), options, st.randoms(use_true_random=False))
def test_key_ignores_key_order(req: ChatRequest, opts: dict[str, Any], rnd: random.Random) -> None:
    """Equal requests built with their mappings in any key order give one key (litellm#40128)."""
    req = msgspec.structs.replace(req, provider_options=opts)
    rebuilt = msgspec.convert(_shuffled(msgspec.to_builtins(req), rnd), ChatRequest)
    assert rebuilt == req
    assert request_key("openai", rebuilt, URL) == request_key("openai", req, URL)


def _changes(req: ChatRequest) -> list[tuple[str, str, ChatRequest, str]]:
    """(name, provider, request, url) variants that each differ from ``req`` in one answer-affecting field."""
    r = msgspec.structs.replace
    first = req.messages[0]
    return [
        ("provider", "azure", req, URL),
        ("host", "openai", req, "https://eu.api.openai.com/v1"),
        ("model", "openai", r(req, model=req.model + "-x"), URL),
        ("message", "openai", r(req, messages=(r(first, content=f"{first.text}!"), *req.messages[1:])), URL),
        ("messages", "openai", r(req, messages=(*req.messages, Message.user("again"))), URL),
        ("temperature", "openai", r(req, temperature=(req.temperature or 0.0) + 0.5), URL),
        ("top_p", "openai", r(req, top_p=0.123 if req.top_p != 0.123 else 0.5), URL),
        ("max_tokens", "openai", r(req, max_tokens=(req.max_tokens or 0) + 1), URL),
        ("stop", "openai", r(req, stop=(*req.stop, "STOP!")), URL),
        ("seed", "openai", r(req, seed=(req.seed or 0) + 1), URL),
        ("tools", "openai", r(req, tools=(), tool_choice=None) if req.tools else r(req, tools=(ToolSpec(name="t"),)), URL),
        ("tool_choice", "openai", r(req, tool_choice="none" if req.tool_choice != "none" else "auto"), URL),
        ("reasoning", "openai", r(req, reasoning=ReasoningConfig(effort="high") if req.reasoning is None else None), URL),
        ("provider_options", "openai", r(req, provider_options={**req.provider_options, "logprobs": True}), URL),
        ("response_format", "openai", r(req, response_format=None) if req.response_format else r(req, response_format=ResponseFormat(type="json_object")), URL),
    ]


@settings(max_examples=100, deadline=None)
@given(chat_request())
def test_key_changes_with_every_answer_affecting_field(req: ChatRequest) -> None:
    """Changing any field that changes the answer gives another key."""
    base = request_key("openai", req, URL)
    for name, provider, variant, url in _changes(req):
        assert request_key(provider, variant, url) != base, name


@given(chat_request(), ident)
def test_key_leaves_out_user_and_credentials(req: ChatRequest, user: str) -> None:
    """``user`` (an end-user id) and anything outside the request (keys, headers) never split an entry."""
    assert request_key("openai", msgspec.structs.replace(req, user=user), URL) == request_key("openai", req, URL)
    # the key is a function of provider, request and URL only: no credential can reach it
    assert request_key("openai", req, URL) == request_key("openai", req, URL.upper().replace("HTTPS", "https"))


@given(chat_request())
def test_key_leaves_out_prompt_cache_breakpoints(req: ChatRequest) -> None:
    """Breakpoints change what the provider bills, not the answer: one key with or without them."""
    mark = CacheControl(ttl="1h")
    marked = msgspec.structs.replace(
        req,
        messages=tuple(msgspec.structs.replace(m, cache=mark) for m in req.messages),
        tools=tuple(msgspec.structs.replace(t, cache=mark) for t in req.tools),
    )
    assert marked != req
    assert request_key("anthropic", marked, URL) == request_key("anthropic", req, URL)


def test_integer_and_float_temperature_are_one_key() -> None:
    """``temperature=1`` and ``temperature=1.0`` are the same request to a provider."""
    a = ChatRequest(model="m", messages=(Message.user("x"),), temperature=1)
    b = ChatRequest(model="m", messages=(Message.user("x"),), temperature=1.0)
    assert request_key("openai", a, None) == request_key("openai", b, None)


RESPONSE = ChatResponse(
    id="r1", model="gpt-4o-mini", created=7, message=assistant_text("hello"), finish_reason=FinishReason.STOP,
    usage=Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4), provider="openai",
    provider_metadata={"system_fingerprint": "fp", "attempts": 2},
)


def test_entry_round_trip_drops_call_bookkeeping() -> None:
    """An entry decodes back to the response, without the storing call's attempt count."""
    got = decode_entry("k", encode_entry("k", RESPONSE))
    assert got == msgspec.structs.replace(RESPONSE, provider_metadata={"system_fingerprint": "fp"})


def test_foreign_and_stale_entries_are_misses() -> None:
    """Another version, another key's entry, a truncated row and non-entries all read as a miss."""
    good = encode_entry("k", RESPONSE)
    stale = msgspec.json.encode(CacheEntry(v=ENTRY_VERSION + 1, key="k", response=RESPONSE))
    assert decode_entry("other", good) is None
    assert decode_entry("k", stale) is None
    assert decode_entry("k", good[: len(good) // 2]) is None
    assert decode_entry("k", b'{"v": 1, "key": "k", "response": {"role": "nobody"}}') is None
    assert decode_entry("k", b"") is None and decode_entry("k", None) is None


@given(st.binary(max_size=300))
def test_decode_entry_is_total(data: bytes) -> None:
    """Arbitrary bytes never raise: they are a miss."""
    assert decode_entry("k", data) is None or isinstance(decode_entry("k", data), ChatResponse)


@given(st.text(max_size=200))
def test_decode_entry_is_total_on_json_like_text(data: str) -> None:
    """JSON-looking junk around the entry's shape never raises either."""
    blob = ('{"v":1,"key":"k","response":' + data).encode()
    assert decode_entry("k", blob) is None or isinstance(decode_entry("k", blob), ChatResponse)


deltas = st.builds(
    ToolCallDelta, index=st.integers(0, 2), id=st.one_of(st.none(), ident), name=st.one_of(st.none(), ident),
    arguments=text, signature=st.one_of(st.none(), ident),
)
chunks = st.builds(
    ChatChunk,
    text=text,
    reasoning=text,
    reasoning_signature=st.one_of(st.none(), ident),
    redacted_reasoning=st.one_of(st.none(), ident),
    tool_calls=st.lists(deltas, max_size=2).map(tuple),
    finish_reason=st.one_of(st.none(), st.sampled_from(FinishReason)),
    raw_finish_reason=st.one_of(st.none(), ident),
    usage=st.one_of(st.none(), st.builds(Usage, prompt_tokens=st.integers(0, 99), completion_tokens=st.integers(0, 99))),
    id=st.one_of(st.none(), ident),
    model=st.one_of(st.none(), ident),
    created=st.one_of(st.none(), st.integers(1, 2**31)),
    refusal=st.one_of(st.none(), text),
    provider_metadata=st.one_of(st.none(), st.dictionaries(ident, json_scalar, max_size=2)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(chunks, max_size=8))
def test_replay_folds_to_the_same_response(stream: list[ChatChunk]) -> None:
    """A stored stream's answer, replayed as chunks, folds to that same answer."""
    original = fold_chunks(stream, "openai")
    assert fold_chunks(replay_chunks(original), "openai") == original
    stored = decode_entry("k", encode_entry("k", original))
    assert stored is not None and fold_chunks(replay_chunks(stored), "openai") == stored

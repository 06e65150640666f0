"""No key in any error, event, log line or header, in any escaping (issue 17)."""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import ErrorKind, LlmError, Secret
from interlingua.core.errors import kept_headers
from interlingua.core.secret import redact, redact_error
from interlingua.effects import Client, LlmConfig

from .helpers import one_route

KEY = "sk-proj-Zq7/Xw+Lm9=Rt4Yp2Ks8Hd6Jf1Vb3Nc0"


def _echoes(key: str) -> list[str]:
    """The ways a server, proxy or error page has been seen to echo a key."""
    return [
        key,
        json.dumps(key)[1:-1].replace("/", "\\/"),
        json.dumps(key, ensure_ascii=True),
        "".join(f"\\u{ord(c):04x}" for c in key),
        "".join(f"\\u{ord(c):04X}" for c in key),
        urllib.parse.quote(key),
        urllib.parse.quote(key, safe=""),
        urllib.parse.quote_plus(key),
        key[:3] + "*" * 24 + key[-4:],          # OpenAI's "Incorrect API key provided: sk-****…7890"
        key[:8] + "..." + key[-4:],
        "*" * 20 + key[-4:],
        key[:20] + "… [truncated]",
        key[-20:],
        key[9:25],
    ]


def _leaks(text: str, key: str = KEY) -> list[str]:
    """Pieces of the key (10+ characters, in any escaping) or its last four after a mask, left in ``text``."""
    found = []
    for form in {key, key.replace("/", "\\/"), urllib.parse.quote(key, safe="")}:
        found += [form[i : i + 10] for i in range(len(form) - 9) if form[i : i + 10] in text]
    if re.search(r"[*.…]{3,}" + re.escape(key[-4:]), text):
        found.append(key[-4:])
    return found


@pytest.mark.parametrize("echo", _echoes(KEY))
def test_every_echo_is_redacted(echo: str) -> None:
    """Whole, escaped, URL-encoded, masked with the tail showing, or cut off: nothing of the key stays."""
    out = redact(f'{{"error": {{"message": "Incorrect API key provided: {echo}. See docs."}}}}', Secret(KEY))
    assert _leaks(out) == [] and "********" in out and "See docs" in out


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=40), st.text(min_size=0, max_size=40), st.integers(0, 13),
       st.integers(10, len(KEY)), st.integers(0, len(KEY)))
def test_any_cut_of_any_echo_is_redacted(before: str, after: str, which: int, length: int, start: int) -> None:
    """Any 10+ character cut of any escaped form, between any text, is masked."""
    echo = _echoes(KEY)[which]
    piece = echo[start : start + length] if which < 8 else echo
    out = redact(before + piece + after, Secret(KEY))
    assert _leaks(out) == []


def test_error_headers_are_an_allow_list() -> None:
    """Only retry hints, quota, request ids, content-type and date survive; echoed credentials do not."""
    kept = kept_headers({"Retry-After": "1", "x-request-id": "req_1", "Set-Cookie": "a=b", "Authorization": "x",
                         "x-api-key": KEY, "x-ratelimit-echo": KEY, "X-Ms-Anything": KEY, "Content-Type": "text/x",
                         "anthropic-ratelimit-tokens-remaining": "5"})
    assert kept == {"retry-after": "1", "x-request-id": "req_1", "content-type": "text/x",
                    "anthropic-ratelimit-tokens-remaining": "5"}


def test_redact_error_covers_headers() -> None:
    """A kept header that echoes the key (a request id set to it) is redacted like the message."""
    err = LlmError(kind=ErrorKind.AUTHENTICATION, message=f"bad {KEY}", raw=KEY[:12],
                   headers={"x-request-id": urllib.parse.quote(KEY)})
    out = redact_error(err, Secret(KEY))
    assert not _leaks(out.message) and not _leaks(out.raw or "") and not _leaks(str(out.headers))


@pytest.fixture
async def echo_server() -> AsyncIterator[str]:
    """An OpenAI-shaped server that answers 401 and echoes the key back in every way at once."""

    async def handler(request: web.Request) -> web.Response:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        message = "Incorrect API key provided: " + " | ".join(_echoes(key))
        return web.Response(
            status=401,
            body=json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                       "code": "invalid_api_key"}}).encode(),
            headers={"Content-Type": "application/json", "x-request-id": urllib.parse.quote(key),
                     "x-echo-authorization": "Bearer " + key, "Set-Cookie": "k=" + key},
        )

    async with one_route("/v1/chat/completions", handler) as root:
        yield root + "/v1"


async def test_no_key_in_error_event_or_log_over_loopback(echo_server: str, caplog: pytest.LogCaptureFixture) -> None:
    """chat and stream against an echoing server: the Failure, its repr, every on_event record and
    every log line are free of the key."""
    events: list[object] = []
    cfg = LlmConfig(max_retries=1, retry_delay=0.0).with_provider("openai", base_url=echo_server, api_key=KEY)
    with caplog.at_level(logging.DEBUG):
        async with Client(cfg, on_event=events.append) as client:
            r = await client.chat("openai:gpt-4o-mini", "hi")
            streamed = [c async for c in client.stream("openai:gpt-4o-mini", "hi")]
    err = r.failure()
    assert err.kind is ErrorKind.AUTHENTICATION and "********" in err.message
    texts = [str(err), repr(err), err.raw or "", repr(err.headers), *map(repr, events), *map(repr, streamed),
             caplog.text]
    assert [t for t in texts if _leaks(t)] == []
    assert err.headers is not None and "x-echo-authorization" not in err.headers and "set-cookie" not in err.headers

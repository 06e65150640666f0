"""Security hardening (issue 13): encrypted transport, TLS trust, proxies, secrets everywhere they
could leak (every provider, the CLI, the fakes' request logs), bounded bodies, streams and JSON."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
import os
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Result, Success

from interlingua.core import (
    DIALECTS,
    ChatRequest,
    ErrorKind,
    Headers,
    HttpRequest,
    HttpResponse,
    LlmError,
    Message,
    ProviderConfig,
    Secret,
    ToolCall,
    ToolSpec,
    parse_model,
    redact,
)
from interlingua.effects import ENV, Client, LlmConfig
from interlingua.effects.transport import StreamItem, Timeouts
from interlingua.fakes import FakeServer, serve
from interlingua.fakes._server import FakeState, build_app

from .helpers import config_for
from .resilience_support import MODELS, SENTINEL_KEY

PROVIDERS = sorted(MODELS)
FRAGMENTS = (SENTINEL_KEY, SENTINEL_KEY[:10], SENTINEL_KEY[-8:])


def _model_id(provider: str) -> str:
    return parse_model(MODELS[provider]).unwrap().model


def _cfg(base_url: str, **extra: Any) -> ProviderConfig:
    """A config every dialect can encode with: key, Azure version, AWS region and credentials."""
    return ProviderConfig(
        base_url=base_url,
        api_key=Secret(SENTINEL_KEY),
        api_version="2024-10-21",
        region="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=Secret(SENTINEL_KEY + "-aws"),
        **extra,
    )


def _no_secret(*things: object) -> None:
    for t in things:
        text = repr(t) + str(t)
        for frag in FRAGMENTS:
            assert frag not in text, f"secret fragment {frag!r} leaked in {text[:300]!r}"


REQ = ChatRequest(model="m", messages=(Message.user("hi"),))

# -- encrypted transport ------------------------------------------------------------------------------

INSECURE = ["http://example.com/v1", "http://10.0.0.5:11434", "http://[2001:db8::1]:8080", "http://127.0.0.1.nip.io/v1",
            "http://localhost@evil.example/v1"]
LOOPBACK = ["http://127.0.0.1:8080/v1", "http://127.9.9.9/v1", "http://localhost:1234/v1", "http://[::1]:11434",
            "http://api.localhost/v1"]


@pytest.mark.parametrize("provider", sorted(DIALECTS))
@pytest.mark.parametrize("stream", [False, True])
def test_plain_http_to_remote_hosts_is_refused_by_every_dialect(provider: str, stream: bool) -> None:
    """Every dialect's encoder refuses http:// to a non-loopback host unless allow_insecure_http."""
    d = DIALECTS[provider]
    for url in INSECURE:
        err = d.encode_request(REQ, _cfg(url), stream=stream, now=1.7e9).failure()
        if "@" in url:  # userinfo ("localhost@evil") is refused as credentials in the URL, opt-in or not
            assert err.kind is ErrorKind.INVALID_REQUEST and "credentials" in err.message, (url, err)
            insecure = d.encode_request(REQ, _cfg(url, allow_insecure_http=True), stream=stream, now=1.7e9)
            assert "credentials" in insecure.failure().message
            continue
        assert err.kind is ErrorKind.INVALID_REQUEST and "plain http" in err.message, (url, err)
        assert isinstance(d.encode_request(REQ, _cfg(url, allow_insecure_http=True), stream=stream, now=1.7e9), Success)
    for url in [*LOOPBACK, "https://example.com/v1"]:
        assert isinstance(d.encode_request(REQ, _cfg(url), stream=stream, now=1.7e9), Success), url
    if hasattr(d, "encode_count_tokens"):
        assert d.encode_count_tokens(REQ, _cfg(INSECURE[0])).failure().kind is ErrorKind.INVALID_REQUEST


@pytest.mark.parametrize("provider", sorted(DIALECTS))
def test_key_is_never_in_the_url(provider: str) -> None:
    """No dialect puts a credential in the URL (Gemini's key goes in x-goog-api-key)."""
    for stream in (False, True):
        r = DIALECTS[provider].encode_request(REQ, _cfg("https://example.com"), stream=stream, now=1.7e9).unwrap()
        for frag in FRAGMENTS:
            assert frag not in r.url
        _no_secret(r)  # HttpRequest's repr hides header values


def test_malformed_base_urls_are_failures_without_echoing_credentials() -> None:
    """A broken or non-http base URL is an invalid_request Failure, and user:password is not echoed."""
    for url in ("http://[::1", "ftp://host/x", "not a url", f"ftp://user:{SENTINEL_KEY}@host/",
                "http://127.0.0.1:99999/v1", "https://host:port/v1"):  # a port urlsplit refuses only when read
        err = DIALECTS["openai"].encode_request(REQ, _cfg(url)).failure()
        assert err.kind is ErrorKind.INVALID_REQUEST
        _no_secret(err)


class _Refuse:
    """A transport that must never be reached."""

    calls = 0

    async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Result[HttpResponse, LlmError]:
        self.calls += 1
        raise AssertionError("no request may be sent")

    async def stream(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> AsyncIterator[StreamItem]:
        self.calls += 1
        raise AssertionError("no request may be sent")
        yield  # pragma: no cover

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_client_refuses_insecure_base_url_before_sending(provider: str) -> None:
    """The client answers invalid_request for http://remote without touching the transport."""
    t = _Refuse()
    cfg = LlmConfig(retry_enabled=False).with_provider(provider, base_url="http://192.0.2.7/v1", api_key=SENTINEL_KEY,
                                                       api_version="2024-10-21", region="us-east-1")
    async with Client(cfg, transport=t) as c:
        r = await c.chat(MODELS[provider], "hi")
        items = [i async for i in c.stream(MODELS[provider], "hi")]
    assert r.failure().kind is ErrorKind.INVALID_REQUEST and "allow_insecure_http" in r.failure().message
    assert items[-1].failure().kind is ErrorKind.INVALID_REQUEST and t.calls == 0


# -- TLS: custom CA, verification on by default --------------------------------------------------------


def _make_ca_and_leaf(tmp: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a leaf for 127.0.0.1/localhost signed by it (what trustme does)."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "interlingua test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, leaf_pem, key_pem = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return ca_pem, leaf_pem, key_pem


@pytest.fixture
async def tls_fake(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """The OpenAI fake behind TLS with a certificate from a private CA: (base URL, CA file)."""
    ca, leaf, key = _make_ca_and_leaf(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(leaf, key)
    state = FakeState(api_key="tls-key")
    runner = web.AppRunner(build_app(None, state), handle_signals=False, shutdown_timeout=0.2, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://127.0.0.1:{port}/v1", ca
    finally:
        await runner.cleanup()


async def _chat_via(base: str, **settings: Any) -> Result[Any, LlmError]:
    cfg = LlmConfig(retry_enabled=False, **settings).with_provider("openai", base_url=base, api_key="tls-key")
    async with Client(cfg) as c:
        return await c.chat("openai:gpt-4o-mini", "hello over TLS")


async def test_self_signed_server_is_refused_by_default(tls_fake: tuple[str, Path]) -> None:
    """A certificate from an unknown CA fails verification: a typed network error, not a silent accept."""
    base, _ = tls_fake
    err = (await _chat_via(base)).failure()
    assert err.kind is ErrorKind.NETWORK and "certificate" in err.message.lower()


async def test_custom_ca_bundle_and_ssl_context_are_trusted(tls_fake: tuple[str, Path]) -> None:
    """ca_bundle (a PEM path) or an ssl_context trusting the private CA makes the same call succeed."""
    base, ca = tls_fake
    assert isinstance(await _chat_via(base, ca_bundle=str(ca)), Success)
    ctx = ssl.create_default_context(cafile=str(ca))
    assert isinstance(await _chat_via(base, ssl_context=ctx), Success)
    # the CA vouches for 127.0.0.1 and localhost only: host-name checking stays on
    assert LlmConfig(ca_bundle=str(ca)).tls_context().check_hostname  # type: ignore[union-attr]


async def test_proxy_variables_apply_only_with_trust_env(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP(S)_PROXY pointing at a dead port is ignored by default, honoured with trust_env=True,
    and bypassed again for hosts in NO_PROXY."""
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    monkeypatch.setenv("HTTPS_PROXY", dead)
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def call(**s: Any) -> Result[Any, LlmError]:
        async with Client(config_for(fake, retry_enabled=False, **s)) as c:
            return await c.chat("openai:gpt-4o-mini", "hi")

    assert isinstance(await call(), Success)
    assert (await call(trust_env=True)).failure().kind is ErrorKind.NETWORK
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert isinstance(await call(trust_env=True), Success)


# -- secrets ----------------------------------------------------------------------------------------------


def test_env_and_explicit_configs_hold_every_credential_as_secret() -> None:
    """Keys from every provider's env vars, and from with_provider, are Secret and never print."""
    env = {name: SENTINEL_KEY for spec in ENV.values() for name in spec.api_key}
    env |= {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": SENTINEL_KEY, "AWS_SESSION_TOKEN": SENTINEL_KEY,
            "AWS_BEARER_TOKEN_BEDROCK": SENTINEL_KEY, "AWS_REGION": "us-east-1"}
    cfg = LlmConfig.from_env(env)
    assert {p for p, s in ENV.items() if s.api_key or s.build} <= set(cfg.providers)
    for p in cfg.providers.values():
        for field in ("api_key", "aws_secret_access_key", "aws_session_token", "bearer_token"):
            v = getattr(p, field)
            assert v is None or isinstance(v, Secret)
        _no_secret(p)
    explicit = LlmConfig().with_provider("azure", api_key=SENTINEL_KEY, bearer_token=SENTINEL_KEY,
                                         aws_secret_access_key=SENTINEL_KEY, aws_session_token=SENTINEL_KEY)
    p = explicit.provider("azure")
    assert all(isinstance(s, Secret) for s in (p.api_key, p.bearer_token, p.aws_secret_access_key, p.aws_session_token))
    _no_secret(cfg, explicit, p, Client(explicit))


@pytest.mark.parametrize(
    "text",
    [
        f"Incorrect API key provided: {SENTINEL_KEY}.",
        f"Incorrect API key provided: {SENTINEL_KEY[:6]}*********{SENTINEL_KEY[-4:]}.",
        f"Incorrect API key provided: {SENTINEL_KEY[:14]}… [300 more chars]",
        f"HTTP 401: key={SENTINEL_KEY[:12]}",
    ],
)
def test_redact_removes_whole_masked_and_cut_keys(text: str) -> None:
    """redact() removes the key, OpenAI's masked echo of it, and a key cut short by an excerpt."""
    _no_secret(redact(text, Secret(SENTINEL_KEY)))


class _Echo:
    """A transport answering every request with a provider-shaped 401 that echoes the key."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def _resp(self) -> HttpResponse:
        return HttpResponse(401, Headers({"content-type": "application/json"}), self.body, 0.0)

    async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Result[HttpResponse, LlmError]:
        return Success(self._resp())

    async def stream(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> AsyncIterator[StreamItem]:
        yield self._resp()

    async def close(self) -> None:
        pass


def _echo_bodies() -> list[bytes]:
    msg = f"Incorrect API key provided: {SENTINEL_KEY}. You can find your API key at https://platform.openai.com."
    shaped = json.dumps({"type": "error", "message": msg, "error": {
        "message": msg, "type": "authentication_error", "code": "invalid_api_key", "status": "UNAUTHENTICATED"}})
    # the key straddles the 2048-char excerpt kept in LlmError.raw, and the 200-char fallback message
    pad_raw = '{"message":"' + "x" * (2048 - 12 - 10) + SENTINEL_KEY + '"}'
    pad_msg = "<html>" + "y" * (200 - 6 - 8) + SENTINEL_KEY + "</html>"
    return [shaped.encode(), f'{{"error":"{msg}"}}'.encode(), pad_raw.encode(), pad_msg.encode(), msg.encode()]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_error_bodies_echoing_the_key_are_redacted(provider: str, caplog: pytest.LogCaptureFixture) -> None:
    """For every provider, a 401 body echoing the key (whole, masked, or cut) leaves no trace of it
    in the Failure, its exception, the raw excerpt, the events or the DEBUG log."""
    caplog.set_level(logging.DEBUG, logger="interlingua")
    events: list[Any] = []
    for body in _echo_bodies():
        cfg = LlmConfig(retry_enabled=False).with_provider(
            provider, base_url="https://example.com", api_key=SENTINEL_KEY, bearer_token=None,
            api_version="2024-10-21", region="us-east-1")
        async with Client(cfg, transport=_Echo(body), on_event=events.append) as c:
            r = await c.chat(MODELS[provider], "hi")
            items = [i async for i in c.stream(MODELS[provider], "hi")]
        err = r.failure()
        assert err.kind in (ErrorKind.AUTHENTICATION, ErrorKind.INVALID_REQUEST, ErrorKind.PERMISSION)
        _no_secret(r, err.message, err.raw, err.to_exception(), *items, *events)
    for rec in caplog.records:
        _no_secret(rec.getMessage(), rec.__dict__)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wrong_key_against_every_fake_leaves_no_trace(provider: str, caplog: pytest.LogCaptureFixture) -> None:
    """A wrong key (the sentinel) sent to each fake: typed auth failure, and the sentinel appears in no
    result, log record, or request the fake recorded (headers and query masked)."""
    caplog.set_level(logging.DEBUG, logger="interlingua")
    async with serve(api_key="the-right-key") as server:
        cfg = config_for(server, retry_enabled=False).with_provider(provider, api_key=SENTINEL_KEY)
        async with Client(cfg) as c:
            r = await c.chat(MODELS[provider], "hi")
            items = [i async for i in c.stream(MODELS[provider], "hi")]
        if provider not in ("docker", "ollama"):  # local servers without authentication
            assert r.failure().kind in (ErrorKind.AUTHENTICATION, ErrorKind.PERMISSION, ErrorKind.INVALID_REQUEST)
        assert server.requests_for(provider)
        _no_secret(r, *([r.failure().to_exception()] if isinstance(r, Failure) else []), *items, *server.requests)
    for rec in caplog.records:
        _no_secret(rec.getMessage(), rec.__dict__)


async def test_fakes_mask_credentials_in_recorded_requests(fake: FakeServer) -> None:
    """Every credential header and Gemini's ?key= query parameter is masked in RecordedRequest."""
    import aiohttp

    async with aiohttp.ClientSession() as s:
        url = fake.url_for("gemini") + "/v1beta/models/gemini-2.0-flash:generateContent"
        async with s.post(url, params={"key": fake.api_key}, json={"contents": [{"parts": [{"text": "hi"}]}]}) as resp:
            assert resp.status == 200
    async with Client(config_for(fake, retry_enabled=False)) as c:
        for provider in PROVIDERS:
            assert isinstance(await c.chat(MODELS[provider], "hi"), Success), provider
    for rec in fake.requests:
        assert fake.api_key not in repr(rec.headers) and fake.api_key not in repr(rec.query), rec
    assert any(r.query.get("key") == "[redacted]" for r in fake.requests)


@pytest.mark.parametrize("extra", [[], ["--json"], ["--no-stream"]])
async def test_cli_error_output_never_shows_the_key(extra: list[str]) -> None:
    """`interlingua chat` with a wrong key in OPENAI_API_KEY prints a one-line error without the key."""
    async with serve(api_key="the-right-key") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        env["OPENAI_API_KEY"] = SENTINEL_KEY
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "interlingua.effects.cli", "chat", "openai:gpt-4o-mini", "hi",
            "--base-url", server.url_for("openai"), *extra,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    text = (out + err).decode()
    assert proc.returncode == 1 and "authentication" in text and "Traceback" not in text
    _no_secret(text)


# -- limits ---------------------------------------------------------------------------------------------


@pytest.fixture
async def endless() -> AsyncIterator[str]:
    """An OpenAI-shaped server that streams SSE chunks forever, and sends a JSON body that never ends."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        resp = web.StreamResponse(headers={"content-type": "text/event-stream" if body.get("stream") else "application/json"})
        await resp.prepare(request)
        if not body.get("stream"):
            await resp.write(b'{"choices":[{"message":{"role":"assistant","content":"')
        chunk = (b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
                 b'"delta":{"content":"more "},"finish_reason":null}]}\n\n') if body.get("stream") else b"a" * 4096
        while True:
            await resp.write(chunk)
            await asyncio.sleep(0.005)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def test_endless_stream_ends_in_a_typed_timeout(endless: str) -> None:
    """A server that never stops streaming is cut off by the total timeout with a typed error."""
    cfg = LlmConfig(retry_enabled=False, timeout=0.5, max_response_bytes=10**9).with_provider(
        "openai", base_url=endless, api_key="k")
    async with Client(cfg) as c:
        items = await asyncio.wait_for(_collect(c.stream("openai:gpt-4o-mini", "forever")), 30)
    last = items[-1].failure()
    assert last.kind in (ErrorKind.TIMEOUT, ErrorKind.STREAMING) and "timeout" in last.message
    assert any(isinstance(i, Success) for i in items)


async def test_endless_body_past_the_cap_is_a_typed_error(endless: str) -> None:
    """A non-stream body that never ends stops at max_response_bytes with a decode error."""
    cfg = LlmConfig(retry_enabled=False, timeout=30, max_response_bytes=64 * 1024).with_provider(
        "openai", base_url=endless, api_key="k")
    async with Client(cfg) as c:
        err = (await asyncio.wait_for(c.chat("openai:gpt-4o-mini", "forever"), 30)).failure()
    assert err.kind is ErrorKind.DECODE and "max_response_bytes" in err.message


async def _collect(it: AsyncIterator[Any]) -> list[Any]:
    return [i async for i in it]


DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"choices":' + b"[" * 50_000, b'{"error":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001]


@pytest.mark.parametrize("provider", sorted(DIALECTS))
def test_deeply_nested_json_is_a_failure_not_a_recursion_error(provider: str) -> None:
    """msgspec has no depth option and raises RecursionError past its limit; every decoder turns a
    hostile nested body (response, error, stream frame) into a Failure/LlmError instead."""
    d = DIALECTS[provider]
    for body in DEEP:
        ok = HttpResponse(200, Headers({"content-type": "application/json"}), body, 0.0)
        err = d.decode_response(ok).failure()
        assert err.kind is ErrorKind.DECODE and err.provider == d.name
        assert isinstance(d.decode_error(HttpResponse(500, Headers({}), body, 0.0)), LlmError)
        for frame in (b"data: " + body + b"\n\n", body + b"\n"):
            st_, _ = d.stream_feed(d.stream_start(), frame)
            d.stream_finish(st_)
    deep_args = ToolCall("c1", "f", '{"a":' * 5000 + "1" + "}" * 5000)
    req = ChatRequest(model="m", messages=(Message.user("q"), Message.assistant("", [deep_args]), Message.tool("c1", "r")))
    d.encode_request(req, _cfg("https://example.com"), now=1.7e9)  # a Result either way, never a raise


# -- input validation for every provider -------------------------------------------------------------------


@st.composite
def invalid_request(draw: st.DrawFn) -> ChatRequest:
    """A conversation with one defect every provider refuses."""
    user = Message.user(draw(st.text(min_size=1, max_size=20)))
    defect = draw(st.sampled_from(["empty", "system-only", "orphan", "schema", "tool-choice", "max-tokens", "dup-tool"]))
    match defect:
        case "empty":
            return ChatRequest(model="m", messages=())
        case "system-only":
            return ChatRequest(model="m", messages=(Message.system(draw(st.text(max_size=10))),))
        case "orphan":
            ghost = draw(st.text(alphabet="abcxyz0123", min_size=1, max_size=8))
            return ChatRequest(model="m", messages=(user, Message.tool(ghost, "x")))
        case "schema":
            t = draw(st.sampled_from(["array", "string", "integer", None]))
            return ChatRequest(model="m", messages=(user,), tools=(ToolSpec(name="t", parameters={"type": t} if t else {}),))
        case "tool-choice":
            return ChatRequest(model="m", messages=(user,), tool_choice="required")
        case "max-tokens":
            return ChatRequest(model="m", messages=(user,), max_tokens=draw(st.integers(-5, 0)))
        case _:
            spec = ToolSpec(name="t", parameters={"type": "object", "properties": {}})
            return ChatRequest(model="m", messages=(user,), tools=(spec, spec))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(invalid_request(), st.sampled_from(PROVIDERS))
async def test_invalid_conversations_never_reach_any_fake(fake: FakeServer, r: ChatRequest, provider: str) -> None:
    """For every provider, generated invalid conversations are refused before a request is sent."""
    async with Client(config_for(fake, retry_enabled=False)) as c:
        result = await c.chat(MODELS[provider], r)
        items = [i async for i in c.stream(MODELS[provider], r)]
    assert result.failure().kind is ErrorKind.INVALID_REQUEST and result.failure().message
    assert items[-1].failure().kind is ErrorKind.INVALID_REQUEST
    assert fake.attempts(provider) == 0 and not fake.requests


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_max_tokens_above_the_catalog_limit_is_refused(fake: FakeServer, provider: str) -> None:
    """max_tokens far above any model's output limit is refused pre-flight when the catalog knows the model."""
    from interlingua.core.catalog import default_catalog

    ref = parse_model(MODELS[provider]).unwrap()
    info = default_catalog().lookup(ref.provider, ref.model)
    if info is None or info.max_output_tokens is None:
        pytest.skip(f"catalog has no output limit for {MODELS[provider]}")
    async with Client(config_for(fake, retry_enabled=False)) as c:
        r = await c.chat(MODELS[provider], "hi", max_tokens=info.max_output_tokens + 1)
    assert r.failure().kind is ErrorKind.INVALID_REQUEST and "limit" in r.failure().message
    assert fake.attempts(provider) == 0

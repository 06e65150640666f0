"""Bedrock's fake against boto3's bedrock-runtime client (the oracle) and against interlingua's Client,
with SigV4 and with a bearer API key, over real loopback sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError
from returns.result import Failure, Success

from interlingua.core import ErrorKind, HttpRequest, Message, ProviderConfig, Secret, ToolSpec
from interlingua.core.bedrock import BEDROCK
from interlingua.core.schema import ChatRequest
from interlingua.effects import Client, LlmConfig
from interlingua.effects.config import ENV, provider_from_env
from interlingua.effects.transport import AiohttpTransport, Timeouts
from interlingua.fakes import FakeServer
from interlingua.fakes.bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TOOL = {"toolSpec": {"name": "get_weather", "description": "Weather",
                     "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}


_OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def _close_boto3_clients() -> Iterator[None]:
    """Close every boto3 client a test made: an open pooled socket surfaces later as a ResourceWarning."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def sdk(fake: FakeServer, secret: str = SECRET_ACCESS_KEY) -> Any:
    client = boto3.client("bedrock-runtime", endpoint_url=fake.url_for("bedrock"), region_name="us-east-1",
                          aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=secret,
                          config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    _OPEN.append(client)
    return client


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


async def test_boto3_converse(fake: FakeServer) -> None:
    """boto3's converse signs with SigV4, the fake verifies it and answers in Converse's shape."""
    r = await asyncio.to_thread(lambda: sdk(fake).converse(modelId=MODEL, messages=user("hello there")))
    assert r["output"]["message"]["content"] == [{"text": "Fake reply: hello there"}]
    assert r["stopReason"] == "end_turn" and r["usage"]["totalTokens"] > 0
    assert fake.requests[-1].path == f"/model/{MODEL}/converse"


async def test_boto3_converse_stream(fake: FakeServer) -> None:
    """boto3 parses the fake's binary event stream: text deltas, messageStop, metadata."""
    def run() -> list[dict[str, Any]]:
        return list(sdk(fake).converse_stream(modelId=MODEL, messages=user("stream me please"))["stream"])
    events = await asyncio.to_thread(run)
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "Fake reply: stream me please"
    assert [next(iter(e)) for e in events][-2:] == ["messageStop", "metadata"]


async def test_boto3_tool_use(fake: FakeServer) -> None:
    """With a tool demanded, the fake answers with toolUse, streamed and not."""
    kw = dict(modelId=MODEL, messages=user("weather?"), toolConfig={"tools": [TOOL], "toolChoice": {"any": {}}})
    r = await asyncio.to_thread(lambda: sdk(fake).converse(**kw))
    tu = r["output"]["message"]["content"][0]["toolUse"]
    assert (tu["name"], tu["input"], r["stopReason"]) == ("get_weather", {"city": "sample"}, "tool_use")
    events = await asyncio.to_thread(lambda: list(sdk(fake).converse_stream(**kw)["stream"]))
    args = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e)
    assert args == '{"city":"sample"}'


@pytest.mark.parametrize(("fault", "code"), [("429", "ThrottlingException"), ("403", "AccessDeniedException"),
                                             ("503", "ServiceUnavailableException"), ("500", "InternalServerException")])
async def test_boto3_client_errors(fake: FakeServer, fault: str, code: str) -> None:
    """Injected faults surface in boto3 as its own ClientError codes."""
    fake.fail_next("bedrock", fault)
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(lambda: sdk(fake).converse(modelId=MODEL, messages=user("x")))
    assert info.value.response["Error"]["Code"] == code


async def test_boto3_wrong_secret(fake: FakeServer) -> None:
    """A wrong secret fails signature verification: boto3 sees InvalidSignatureException."""
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(lambda: sdk(fake, "not-the-secret").converse(modelId=MODEL, messages=user("x")))
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


async def test_boto3_mid_stream_throttling(fake: FakeServer) -> None:
    """The error-event fault is a throttlingException frame boto3 raises as EventStreamError."""
    fake.fail_next("bedrock", "error-event")
    def run() -> None:
        stream = sdk(fake).converse_stream(modelId=MODEL, messages=user("a b c d e f"))["stream"]
        try:
            list(stream)
        finally:
            stream.close()  # an error event leaves the HTTP response open: its socket is not the pool's
    with pytest.raises(EventStreamError) as info:
        await asyncio.to_thread(run)
    assert info.value.response["Error"]["Code"] == "throttlingException"


def sigv4_config(fake: FakeServer, secret: str = SECRET_ACCESS_KEY) -> LlmConfig:
    return LlmConfig(retry_enabled=False).with_provider(
        "bedrock", base_url=fake.url_for("bedrock"), region="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=secret, aws_session_token="session-token")


async def test_client_sigv4_chat_and_stream_agree(fake: FakeServer) -> None:
    """Our client signs requests the fake accepts; the folded stream equals the non-stream answer."""
    async with Client(sigv4_config(fake)) as c:
        for options in ({}, {"tools": [ToolSpec(name="get_weather")], "tool_choice": "required"},
                        {"reasoning": {"budget_tokens": 1024}}):
            chat = (await c.chat(f"bedrock:{MODEL}", "hello bedrock", **options)).unwrap()
            streamed = (await c.stream_response(f"bedrock:{MODEL}", "hello bedrock", **options)).unwrap()
            assert chat == streamed
    assert chat.reasoning == "Thinking about: hello bedrock" and chat.text == "Fake reply: hello bedrock"
    sent = {k.lower(): v for k, v in fake.requests[-1].headers.items()}
    assert sent["x-amz-security-token"] == "[redacted]" and sent["authorization"] == "[redacted]"


async def test_client_bearer_key(fake: FakeServer) -> None:
    """A Bedrock API key goes as a bearer token; a wrong one is an authentication error."""
    cfg = LlmConfig(retry_enabled=False).with_provider("bedrock", base_url=fake.url_for("bedrock"), api_key=fake.api_key)
    async with Client(cfg) as c:
        r = await c.chat("bedrock:us.anthropic.claude-3-haiku-20240307-v1:0", "hi")
        assert r.unwrap().text == "Fake reply: hi"
    bad = cfg.with_provider("bedrock", api_key="wrong-key")
    async with Client(bad) as c:
        err = (await c.chat(f"bedrock:{MODEL}", "hi")).failure()
        assert err.kind is ErrorKind.AUTHENTICATION and "wrong-key" not in str(err)


async def test_client_wrong_secret_and_faults(fake: FakeServer) -> None:
    """Wrong secrets, throttling, corrupt and throttled streams are typed failures."""
    async with Client(sigv4_config(fake, "wrong")) as c:
        err = (await c.chat(f"bedrock:{MODEL}", "hi")).failure()
        assert (err.kind, err.code, err.status) == (ErrorKind.AUTHENTICATION, "InvalidSignatureException", 403)
    async with Client(sigv4_config(fake)) as c:
        fake.fail_next("bedrock", "429")
        assert (await c.chat(f"bedrock:{MODEL}", "hi")).failure().is_rate_limit()
        fake.fail_next("bedrock", "error-event")
        err = (await c.stream_response(f"bedrock:{MODEL}", "a b c d e f")).failure()
        assert err.is_rate_limit()
        fake.fail_next("bedrock", "malformed")
        assert (await c.stream_response(f"bedrock:{MODEL}", "a b c d e f")).failure().kind is ErrorKind.DECODE
        fake.fail_next("bedrock", "cut=2")
        assert (await c.stream_response(f"bedrock:{MODEL}", "a b c d e f")).failure().kind is ErrorKind.STREAMING


async def test_stale_date_is_refused(fake: FakeServer) -> None:
    """A signature dated more than 5 minutes ago gets AWS's 403 'Signature expired'."""
    import time
    cfg = ProviderConfig(base_url=fake.url_for("bedrock"), region="us-east-1", aws_access_key_id=ACCESS_KEY_ID,
                         aws_secret_access_key=Secret(SECRET_ACCESS_KEY))
    req: HttpRequest = BEDROCK.encode_request(ChatRequest(model=MODEL, messages=(Message.user("x"),)), cfg,
                                              now=time.time() - 600).unwrap()
    transport = AiohttpTransport()
    try:
        resp = (await transport.send(req, timeouts=Timeouts(), max_bytes=1 << 20)).unwrap()
    finally:
        await transport.close()
    err = BEDROCK.decode_error(resp)
    assert resp.status == 403 and err.kind is ErrorKind.AUTHENTICATION and "Signature expired" in err.message


async def test_missing_auth(fake: FakeServer) -> None:
    """No Authorization header at all: 403 MissingAuthenticationTokenException."""
    cfg = ProviderConfig(base_url=fake.url_for("bedrock"), api_key=Secret("x"))
    req = BEDROCK.encode_request(ChatRequest(model=MODEL, messages=(Message.user("x"),)), cfg).unwrap()
    req = HttpRequest(req.method, req.url, type(req.headers)([(k, v) for k, v in req.headers.items_raw()
                                                             if k.lower() != "authorization"]), req.body)
    transport = AiohttpTransport()
    try:
        resp = (await transport.send(req, timeouts=Timeouts(), max_bytes=1 << 20)).unwrap()
    finally:
        await transport.close()
    assert BEDROCK.decode_error(resp).code == "MissingAuthenticationTokenException"


def test_env_config() -> None:
    """AWS's variables configure bedrock: SigV4 keys, session token, region, or a bearer API key."""
    cfg = provider_from_env(ENV["bedrock"], {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s",
                                             "AWS_SESSION_TOKEN": "t", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert cfg is not None and (cfg.aws_access_key_id, cfg.region) == ("AKID", "eu-west-1")
    assert cfg.aws_secret_access_key == Secret("s") and cfg.aws_session_token == Secret("t") and cfg.api_key is None
    bearer = provider_from_env(ENV["bedrock"], {"AWS_BEARER_TOKEN_BEDROCK": "k", "AWS_REGION": "us-west-2",
                                                "AWS_DEFAULT_REGION": "x"})
    assert bearer is not None and bearer.api_key == Secret("k") and bearer.region == "us-west-2"
    assert provider_from_env(ENV["bedrock"], {"AWS_REGION": "us-east-1"}) is None
    assert "bedrock" in LlmConfig.from_env({"AWS_BEARER_TOKEN_BEDROCK": "k", "AWS_REGION": "us-east-1"}).providers


async def test_missing_region_or_credentials_fail_cleanly() -> None:
    """No credentials / no region are Failures before anything is sent."""
    async with Client(LlmConfig(retry_enabled=False)) as c:
        r = await c.chat(f"bedrock:{MODEL}", "hi")
        assert isinstance(r, Failure) and r.failure().kind is ErrorKind.AUTHENTICATION
    cfg = LlmConfig(retry_enabled=False).with_provider("bedrock", api_key="k")
    async with Client(cfg) as c:
        r = await c.chat(f"bedrock:{MODEL}", "hi")
        assert isinstance(r, Failure) and "region" in r.failure().message
    assert not isinstance(r, Success)

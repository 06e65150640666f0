"""The ``fake_llm`` pytest fixtures, used exactly as a user's test would."""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest

from interlingua.core import ErrorKind, FinishReason
from interlingua.effects import Client, LlmConfig
from interlingua.effects.config import ENV
from interlingua.fakes.pytest_plugin import FakeLlm


async def test_scripted_answers_in_order(fake_llm: FakeLlm) -> None:
    """Scripted answers replace the default rule, one request each, then the rule resumes."""
    fake_llm.script("openai", responses=["First.", {"tool": "lookup", "arguments": {"q": "x"}}])
    r1 = (await fake_llm.client.chat("gpt-4o-mini", "anything")).unwrap()
    r2 = (await fake_llm.client.chat("gpt-4o-mini", "anything")).unwrap()
    r3 = (await fake_llm.client.chat("gpt-4o-mini", "anything")).unwrap()
    assert r1.text == "First."
    assert r2.finish_reason is FinishReason.TOOL_CALLS and r2.tool_calls[0].name == "lookup"
    assert json.loads(r2.tool_calls[0].arguments) == {"q": "x"}
    assert r3.text == "Fake reply: anything"


async def test_records_what_was_sent(fake_llm: FakeLlm) -> None:
    """The received requests are there to assert on, with the key redacted."""
    await fake_llm.client.chat("gpt-4o-mini", "hello", temperature=0.1)
    sent = fake_llm.requests_for("openai")[-1]
    assert sent.path == "/v1/chat/completions" and sent.json()["temperature"] == 0.1
    assert sent.headers["Authorization"] == "[redacted]"


async def test_fail_next_and_sdk(fake_llm: FakeLlm) -> None:
    """Faults reach both the interlingua client and an official SDK pointed at the fake."""
    fake_llm.fail_next("openai", "500")
    assert (await fake_llm.client.chat("gpt-4o-mini", "x")).failure().kind is ErrorKind.PROVIDER
    sdk = openai.AsyncOpenAI(base_url=fake_llm.url_for("openai"), api_key=fake_llm.api_key, max_retries=0)
    fake_llm.script("openai", responses=["scripted for the SDK"])
    r = await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    await sdk.close()
    assert r.choices[0].message.content == "scripted for the SDK"
    assert fake_llm.env()["OPENAI_BASE_URL"] == fake_llm.url_for("openai")


def test_sync_fixture_serves_sync_code(fake_llm_sync: FakeLlm) -> None:
    """Synchronous code (here a raw urllib call) can use the thread-backed fakes."""
    req = urllib.request.Request(
        fake_llm_sync.url_for("openai") + "/chat/completions",
        data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "sync"}]}).encode(),
        headers={"Authorization": f"Bearer {fake_llm_sync.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["choices"][0]["message"]["content"] == "Fake reply: sync"


async def test_env_covers_every_provider(fake_llm: FakeLlm, monkeypatch: pytest.MonkeyPatch) -> None:
    """fake_llm.env() configures every provider in config.ENV; a from_env client then reaches each fake."""
    env = fake_llm.env()
    cfg = LlmConfig.from_env(env, retry_enabled=False)
    assert set(cfg.providers) == set(ENV)
    models = {"openai": "openai:gpt-4o-mini", "azure": "azure:gpt-4o-mini", "xai": "xai:grok-4",
              "docker": "docker:ai/smollm2", "openai_compatible": "openai_compatible:gpt-4o-mini",
              "anthropic": "anthropic:claude-haiku-4-5", "gemini": "gemini:gemini-2.5-flash",
              "ollama": "ollama:llama3.2", "bedrock": "bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0",
              "openai_responses": "openai_responses:gpt-4o-mini"}
    assert set(models) == set(ENV)
    async with Client(cfg) as client:
        for provider, model in models.items():
            r = await client.chat(model, "hello")
            assert r.unwrap().text == "Fake reply: hello", provider
    # The official SDKs read the same variables.
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    sdk = openai.AsyncAzureOpenAI(max_retries=0)
    r2 = await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    await sdk.close()
    assert r2.choices[0].message.content == "Fake reply: hi"

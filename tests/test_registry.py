"""The provider rows are the system: every part (parsing, validation, counting, environment, CLI hints,
dialects, fakes, catalog) is built from them, and one more row adds a working provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from returns.result import Success

from interlingua.core import DIALECTS, ErrorKind, parse_model
from interlingua.core.catalog import default_catalog
from interlingua.core.openai import OpenAIDialect
from interlingua.core.registry import PROVIDER_SPECS, SPECS, ProviderSpec, get_spec, register, unregister
from interlingua.core.tokens import count_tokens
from interlingua.core.validate import PROVIDER_RULES
from interlingua.effects import Client, LlmConfig
from interlingua.effects.cli import error_line
from interlingua.effects.config import ENV, PROVIDER_ENV
from interlingua.fakes import SPECS as FAKE_SPECS
from interlingua.fakes import FakeServer


@pytest.mark.parametrize("spec", PROVIDER_SPECS, ids=lambda s: s.name)
def test_every_row_builds_a_whole_provider(spec: ProviderSpec) -> None:
    """Each row: every name and alias parses to it, its dialect carries its name and base URL, it has
    environment names, rules, a fake that speaks its wire format, and a catalog or an explicit "no catalog"."""
    for name in spec.names:
        assert parse_model(f"{name}:some-model") == Success(parse_model(f"{spec.name}:some-model").unwrap())
        assert parse_model(f"{name}:some-model").unwrap().provider == spec.name
        assert get_spec(name) is spec
    d = DIALECTS[spec.name]
    assert d.name == spec.name and d.default_base_url == (spec.default_base_url or "")
    assert spec.env_api_key or spec.env_base_url
    assert PROVIDER_ENV[spec.name].api_key == spec.env_api_key and ENV is PROVIDER_ENV
    assert PROVIDER_RULES[spec.name] is spec.rules
    assert spec.otel_name
    fakes = {f.name for f in FAKE_SPECS}
    assert spec.name in fakes or isinstance(d, OpenAIDialect)  # the OpenAI fake serves any OpenAI-wire row
    listed = default_catalog().for_provider(spec.name)
    assert bool(listed) == spec.catalog, f"{spec.name}: catalog={spec.catalog} but {len(listed)} entries"
    if spec.demo_model is not None:
        assert parse_model(spec.demo_model).unwrap().provider == spec.name


def test_rows_are_distinct() -> None:
    """No two rows share a name, an alias or an OpenTelemetry provider name."""
    names = [n for s in PROVIDER_SPECS for n in s.names]
    assert len(names) == len(set(names))
    otel = [s.otel_name for s in PROVIDER_SPECS]
    assert len(otel) == len(set(otel))


def test_detection_comes_from_the_rows() -> None:
    """Bare names are claimed by the rows' patterns, in row order."""
    for spec in PROVIDER_SPECS:
        if spec.demo_model and spec.detect:
            bare = spec.demo_model.partition(":")[2]
            assert parse_model(bare).unwrap().provider == spec.name


def test_token_strategy_comes_from_the_rows() -> None:
    """A "tiktoken" row counts exactly for OpenAI model names; an "estimate" row never claims exactness."""
    assert SPECS["azure"].tokens == "tiktoken" and count_tokens("azure:gpt-4o", "hi").exact
    assert SPECS["xai"].tokens == "estimate" and not count_tokens("xai:gpt-4o", "hi").exact


ACME = ProviderSpec(
    name="acme",
    dialect_module="compat",
    dialect_attr="OPENAI_COMPATIBLE",
    aliases=("acme-llm",),
    env_api_key=("ACME_API_KEY",),
    env_base_url=("ACME_BASE_URL",),
    otel_name="acme",
    catalog=False,
)


@pytest.fixture
def acme() -> Iterator[ProviderSpec]:
    register(ACME)
    try:
        yield ACME
    finally:
        unregister(ACME.name)
    assert "acme" not in SPECS and get_spec("acme-llm") is None
    assert parse_model("acme-llm/m").failure().kind is ErrorKind.INVALID_MODEL


async def test_one_row_adds_an_openai_compatible_provider(acme: ProviderSpec, fake: FakeServer) -> None:
    """A throwaway provider added as ONE row is read from its env vars and talks to the OpenAI fake."""
    cfg = LlmConfig.from_env({"ACME_API_KEY": fake.api_key, "ACME_BASE_URL": fake.url_for("openai")}, retry_enabled=False)
    assert "acme" in cfg.providers
    async with Client(cfg) as client:
        r = (await client.chat("acme:gpt-4o-mini", "Say hi")).unwrap()
        assert r.text and r.provider_metadata["attempts"] == 1
        streamed = (await client.stream_response("acme-llm/gpt-4o-mini", "Say hi")).unwrap()
        assert streamed.text
        fake.fail_next("openai", "401")
        err = (await client.chat("acme:gpt-4o-mini", "Say hi")).failure()
    assert err.kind is ErrorKind.AUTHENTICATION and err.provider == "acme" and err.status == 401
    assert "ACME_API_KEY" in error_line(err)
    assert fake.requests[-1].path.endswith("/chat/completions")

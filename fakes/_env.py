"""The environment variables that point interlingua and the official SDKs at a running fake.

One function, used by ``interlingua fakes serve`` (printed as ``export`` lines) and by the pytest
plugin's ``fake_llm.env()``. The names are the providers' own (and ``interlingua.effects.config.ENV``'s);
``tests/test_pytest_plugin.py`` checks that every provider there is covered.
"""

from __future__ import annotations

from collections.abc import Callable

from ._server import FakeServer
from .bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY

__all__ = ["fake_env"]

# A dated version: the openai SDK's AzureOpenAI requires one, and interlingua then uses the
# deployment-scoped path (/openai/deployments/{name}/chat/completions), which the fake serves.
AZURE_API_VERSION = "2024-10-21"


def fake_env(fake: FakeServer) -> dict[str, str]:
    """``{VAR: value}`` for every provider ``fake`` serves (providers it does not serve are left out)."""
    served = {s.name for s in fake.specs}
    key = fake.api_key
    url = fake.url_for
    # Built lazily per provider: url_for raises for a provider the server does not serve.
    rows: dict[str, Callable[[], dict[str, str]]] = {
        "openai": lambda: {"OPENAI_BASE_URL": url("openai"), "OPENAI_API_KEY": key},
        "azure": lambda: {"AZURE_OPENAI_ENDPOINT": url("azure"), "AZURE_OPENAI_API_KEY": key,
                  "OPENAI_API_VERSION": AZURE_API_VERSION},
        "xai": lambda: {"XAI_BASE_URL": url("xai"), "XAI_API_KEY": key},
        "docker": lambda: {"DMR_BASE_URL": url("docker")},
        # OpenAI's wire format: any OpenAI-compatible client can use the OpenAI fake.
        "openai_compatible": lambda: {"OPENAI_COMPATIBLE_BASE_URL": url("openai"),
                              "OPENAI_COMPATIBLE_API_KEY": key},
        "anthropic": lambda: {"ANTHROPIC_BASE_URL": url("anthropic"), "ANTHROPIC_API_KEY": key},
        # GEMINI_BASE_URL is interlingua's; GOOGLE_GEMINI_BASE_URL is what google-genai reads.
        "gemini": lambda: {"GEMINI_BASE_URL": url("gemini"),
                   "GOOGLE_GEMINI_BASE_URL": url("gemini"), "GEMINI_API_KEY": key},
        "ollama": lambda: {"OLLAMA_HOST": url("ollama")},
        # boto3 and interlingua both read these; the fake verifies SigV4 with these fixed credentials.
        "bedrock": lambda: {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url("bedrock"),
                    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"},
    }
    needs = {"openai_compatible": "openai"}
    out: dict[str, str] = {}
    for provider, row in rows.items():
        if needs.get(provider, provider) in served:
            out.update(row())
    return out

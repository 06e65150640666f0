"""Configuration: explicit values, or the providers' documented environment variables.

The environment is read here and only here, once, when a config is built (``LlmConfig.from_env``);
nothing reads it at call time, and nothing in ``core`` reads it at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from interlingua.core import ProviderConfig, Secret
from interlingua.core.budget import Limits

__all__ = ["ENV", "LlmConfig", "ProviderEnv"]


@dataclass(frozen=True)
class ProviderEnv:
    """Where one provider's settings live in the environment (first variable set wins)."""

    api_key: tuple[str, ...] = ()
    base_url: tuple[str, ...] = ()
    api_version: tuple[str, ...] = ()
    normalize_base_url: Any = None  # Callable[[str], str] | None


# One row per provider; a provider missing here simply has no environment.
ENV: dict[str, ProviderEnv] = {
    "openai": ProviderEnv(api_key=("OPENAI_API_KEY",), base_url=("OPENAI_BASE_URL",)),
}


class LlmConfig(msgspec.Struct, kw_only=True):
    """Client-wide settings. Names from the original design are kept: ``retry_enabled``,
    ``max_retries``, ``retry_delay``, ``circuit_breaker_enabled``, ``circuit_breaker_threshold``,
    ``timeout``."""

    providers: dict[str, ProviderConfig] = msgspec.field(default_factory=dict)
    timeout: float = 600.0
    connect_timeout: float = 10.0
    first_byte_timeout: float | None = None
    idle_timeout: float | None = 120.0
    retry_enabled: bool = True
    max_retries: int = 3
    retry_delay: float = 1.0
    retry_max_delay: float = 60.0
    circuit_breaker_enabled: bool = True
    circuit_breaker_threshold: int = 5
    circuit_breaker_cooldown: float = 30.0
    max_response_bytes: int = 32 * 1024 * 1024
    pool_limit: int = 100
    pool_limit_per_host: int = 0
    trust_env: bool = False
    fallbacks: tuple[str, ...] = ()
    limits: Limits = msgspec.field(default_factory=Limits)
    """Spending caps, token limits and client-side rate limits (see :mod:`interlingua.effects.budget`)."""

    def __repr__(self) -> str:
        return f"LlmConfig(providers={sorted(self.providers)}, timeout={self.timeout})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **settings: Any) -> LlmConfig:
        """Build from ``environ`` (default ``os.environ``): every provider in :data:`ENV` that has a
        variable set gets a :class:`ProviderConfig`; ``settings`` set the other fields."""
        env = os.environ if environ is None else environ
        providers = dict(settings.pop("providers", {}))
        for name, spec in ENV.items():
            if name in providers:
                continue
            cfg = provider_from_env(spec, env)
            if cfg is not None:
                providers[name] = cfg
        return cls(providers=providers, **settings)

    def provider(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig()

    def with_provider(self, name: str, **fields: Any) -> LlmConfig:
        """A copy with ``name``'s config replaced by one built from ``fields`` (keys wrapped in Secret)."""
        for k in ("api_key", "aws_secret_access_key", "aws_session_token"):
            if isinstance(fields.get(k), str):
                fields[k] = Secret(fields[k])
        base = self.providers.get(name) or ProviderConfig()
        return msgspec.structs.replace(self, providers={**self.providers, name: msgspec.structs.replace(base, **fields)})


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        v = env.get(n)
        if v:
            return v
    return None


def provider_from_env(spec: ProviderEnv, env: Mapping[str, str]) -> ProviderConfig | None:
    key = _first(env, spec.api_key)
    base = _first(env, spec.base_url)
    version = _first(env, spec.api_version)
    if key is None and base is None and version is None:
        return None
    if base is not None and spec.normalize_base_url is not None:
        base = spec.normalize_base_url(base)
    return ProviderConfig(api_key=Secret(key) if key else None, base_url=base, api_version=version)

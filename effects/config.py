"""Configuration: explicit values, or the providers' documented environment variables.

The environment is read here and only here, once, when a config is built (``LlmConfig.from_env``);
nothing reads it at call time, and nothing in ``core`` reads it at all.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from interlingua.core import ProviderConfig, Secret
from interlingua.core.breaker import BreakerPolicy
from interlingua.core.budget import Limits
from interlingua.core.catalog import Catalog, default_catalog
from interlingua.core.registry import SPECS, ProviderSpec
from interlingua.core.retry import RetryPolicy
from interlingua.core.sse import DEFAULT_MAX_EVENT_BYTES

from .telemetry import TelemetrySettings, capture_content_from_env
from .transport import Timeouts

__all__ = ["ENV", "PROVIDER_ENV", "LlmConfig", "ProviderEnv"]


@dataclass(frozen=True)
class ProviderEnv:
    """Where one provider's settings live in the environment (first variable set wins)."""

    api_key: tuple[str, ...] = ()
    base_url: tuple[str, ...] = ()
    api_version: tuple[str, ...] = ()
    normalize_base_url: Callable[[str], str] | None = None
    build: Callable[[Mapping[str, str]], ProviderConfig | None] | None = None
    """A provider whose settings are more than key/URL/version (AWS) builds its config itself."""


def _bedrock_from_env(env: Mapping[str, str]) -> ProviderConfig | None:
    """AWS's standard variables (boto3 reads the same ones); a Bedrock API key wins over SigV4."""
    key = env.get("AWS_BEARER_TOKEN_BEDROCK")
    key_id, secret, token = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY"), env.get("AWS_SESSION_TOKEN")
    region = _first(env, ("AWS_REGION", "AWS_DEFAULT_REGION"))
    base = env.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    if not key and not (key_id and secret):
        return None
    return ProviderConfig(
        api_key=Secret(key) if key else None,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=Secret(secret) if secret else None,
        aws_session_token=Secret(token) if token else None,
        region=region,
        base_url=base or None,
    )


def _dmr_base_url(url: str) -> str:
    """A bare runner address gets Docker Model Runner's OpenAI path.

    >>> _dmr_base_url("http://localhost:12434"), _dmr_base_url("http://h:1/engines/llama.cpp/v1")
    ('http://localhost:12434/engines/v1', 'http://h:1/engines/llama.cpp/v1')
    """
    return url if urlsplit(url).path.strip("/") else url.rstrip("/") + "/engines/v1"


def _normalize_ollama_host(value: str) -> str:
    # Imported on use, so that reading the config does not import the Ollama dialect module.
    from interlingua.core.ollama import normalize_host

    return normalize_host(value)


NORMALIZERS: dict[str, Callable[[str], str]] = {"ollama_host": _normalize_ollama_host, "dmr_base_url": _dmr_base_url}
"""The functions a row's ``env_normalizer`` names (core names them; effects holds the code)."""
BUILDERS: dict[str, Callable[[Mapping[str, str]], ProviderConfig | None]] = {"aws": _bedrock_from_env}
"""A row whose ``env_normalizer`` names one of these builds its whole config from the environment."""


def env_for(spec: ProviderSpec) -> ProviderEnv:
    """Where a provider row says its settings live."""
    build = BUILDERS.get(spec.env_normalizer or "")
    if build is not None:
        return ProviderEnv(api_key=spec.env_api_key, base_url=spec.env_base_url, build=build)
    return ProviderEnv(
        api_key=spec.env_api_key,
        base_url=spec.env_base_url,
        api_version=spec.env_api_version,
        normalize_base_url=NORMALIZERS.get(spec.env_normalizer or ""),
    )


class _ProviderEnvs(Mapping[str, ProviderEnv]):
    """Provider name → :class:`ProviderEnv`, built from the rows of ``core/registry.py`` (a view: a
    row registered at run time is read from the environment too)."""

    def __getitem__(self, name: str) -> ProviderEnv:
        return env_for(SPECS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(SPECS)

    def __len__(self) -> int:
        return len(SPECS)


PROVIDER_ENV: Mapping[str, ProviderEnv] = _ProviderEnvs()
ENV = PROVIDER_ENV
"""The old name of :data:`PROVIDER_ENV`, kept for code that imports it."""


class LlmConfig(msgspec.Struct, kw_only=True, frozen=True):
    """Client-wide settings. Names from the original design are kept: ``retry_enabled``,
    ``max_retries``, ``retry_delay``, ``circuit_breaker_enabled``, ``circuit_breaker_threshold``,
    ``timeout``.

    Timeouts (seconds, ``None`` for none): ``connect_timeout``; ``first_byte_timeout`` (request
    sent → response headers); ``idle_timeout`` (longest gap between body reads, stream chunks
    included); ``timeout`` (one whole exchange, body included).

    Retries: ``max_retries`` retries after the first attempt (``retry_enabled=False``: none),
    full-jitter exponential backoff from ``retry_delay`` times ``retry_multiplier`` per retry,
    capped at ``retry_max_delay``. A server's Retry-After replaces the computed delay; one longer
    than ``retry_max_delay`` or past the deadline ends the retries at once.

    ``deadline`` (seconds, ``None`` for none; a call's ``deadline=`` replaces it) bounds everything a
    call does: every attempt, every sleep (backoff, Retry-After, rate limiter, breaker), failover to
    every fallback, and a stream up to its first chunk. A wait that cannot fit in what remains is not
    started: the call returns at once with the error that caused it. ``retry_deadline`` is its
    older name and is used when ``deadline`` is not set.

    The config is frozen: ``with_options(**changes)`` returns a changed copy (``with_provider``
    one with a provider's settings replaced). ``catalog`` (default: the bundled one) gives the models'
    limits and prices to the client, its budget guard and every dialect default.

    Circuit breaker (per provider, or per provider+model with ``circuit_breaker_per_model``):
    opens after ``circuit_breaker_threshold`` consecutive retryable failures, or when at least
    ``circuit_breaker_failure_ratio`` of the last ``circuit_breaker_window`` outcomes failed
    (``0``: ratio rule off); after ``circuit_breaker_cooldown`` s, ``circuit_breaker_probes``
    requests test the provider.

    ``fallbacks``: model strings tried in order when a model's retries are exhausted or its
    circuit is open (a call's ``fallbacks=`` replaces them). ``max_response_bytes`` caps a body or
    a whole stream, ``max_event_bytes`` one stream event (an SSE event or an NDJSON line: raise it for a
    provider that sends large ones, such as inline images); ``pool_limit``/``pool_limit_per_host`` cap
    open connections.

    TLS: certificates and host names are always verified. ``ca_bundle`` (a PEM file, or a
    directory prepared with ``openssl rehash``) is the set of trusted CAs *instead of* the system
    store, as ``requests``' ``verify=path`` is; ``ssl_context`` replaces the whole context (it wins
    over ``ca_bundle``; verification is then whatever that context says).
    ``trust_env=True`` lets aiohttp read ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` and
    ``~/.netrc``; by default the environment is ignored, so a stray proxy variable cannot
    redirect traffic.
    """

    providers: dict[str, ProviderConfig] = msgspec.field(default_factory=dict)
    timeout: float = 600.0
    connect_timeout: float = 10.0
    first_byte_timeout: float | None = None
    idle_timeout: float | None = 120.0
    retry_enabled: bool = True
    max_retries: int = 3
    retry_delay: float = 1.0
    retry_max_delay: float = 60.0
    retry_multiplier: float = 2.0
    retry_deadline: float | None = None
    deadline: float | None = None
    circuit_breaker_enabled: bool = True
    circuit_breaker_threshold: int = 5
    circuit_breaker_cooldown: float = 30.0
    circuit_breaker_probes: int = 1
    circuit_breaker_window: int = 0
    circuit_breaker_failure_ratio: float = 0.5
    circuit_breaker_per_model: bool = False
    max_response_bytes: int = 32 * 1024 * 1024
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    pool_limit: int = 100
    pool_limit_per_host: int = 0
    trust_env: bool = False
    ca_bundle: str | None = None
    ssl_context: ssl.SSLContext | None = None
    fallbacks: tuple[str, ...] = ()
    limits: Limits = msgspec.field(default_factory=Limits)
    """Spending caps, token limits and client-side rate limits (see :mod:`interlingua.effects.budget`)."""
    telemetry: TelemetrySettings = msgspec.field(default_factory=TelemetrySettings)  # hook: otel
    """OpenTelemetry spans/metrics on or off, content capture (see :mod:`interlingua.effects.telemetry`)."""
    catalog: Catalog = msgspec.field(default_factory=default_catalog)
    """Model limits and prices (``interlingua.effects.catalog.load_catalog`` adds a user's file)."""
    redis_url: Secret | None = None  # hook: redis
    """``INTERLINGUA_REDIS_URL``: share breakers, rate limits and budgets with every client using this
    Redis (:class:`interlingua.effects.redis_store.RedisStore`). A secret: it may hold a password."""
    cache: str | None = None
    """The default response cache when a ``Client`` is given none (hook: cache): ``memory``,
    ``sqlite:///path`` or ``redis://…`` (see :mod:`interlingua.effects.cache`); env ``INTERLINGUA_CACHE``."""

    # -- the flat fields, grouped as the client uses them (httpx's Timeout/Limits style) --

    @property
    def timeouts(self) -> Timeouts:
        """``timeout``, ``connect_timeout``, ``first_byte_timeout`` and ``idle_timeout`` as one value."""
        return Timeouts(
            total=self.timeout, connect=self.connect_timeout, first_byte=self.first_byte_timeout, idle=self.idle_timeout
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """``retry_enabled``, ``max_retries``, ``retry_delay``, ``retry_max_delay``, ``retry_multiplier``."""
        return RetryPolicy(
            max_attempts=self.max_retries + 1 if self.retry_enabled else 1,
            base_delay=self.retry_delay,
            max_delay=self.retry_max_delay,
            multiplier=self.retry_multiplier,
        )

    @property
    def breaker_policy(self) -> BreakerPolicy:
        """The ``circuit_breaker_*`` fields (``circuit_breaker_enabled``/``_per_model`` are the client's)."""
        return BreakerPolicy(
            threshold=self.circuit_breaker_threshold,
            cooldown=self.circuit_breaker_cooldown,
            probes=self.circuit_breaker_probes,
            window=self.circuit_breaker_window,
            failure_ratio=self.circuit_breaker_failure_ratio,
        )

    @property
    def call_deadline(self) -> float | None:
        """The default total deadline of a call: ``deadline``, else its alias ``retry_deadline``."""
        return self.deadline if self.deadline is not None else self.retry_deadline

    def with_options(self, **changes: Any) -> LlmConfig:
        """A copy with ``changes`` applied (openai-python's ``with_options``); unknown names raise ``TypeError``.

        >>> LlmConfig(max_retries=3).with_options(max_retries=0).max_retries
        0
        """
        return msgspec.structs.replace(self, **changes)

    def __repr__(self) -> str:
        return f"LlmConfig(providers={sorted(self.providers)}, timeout={self.timeout})"

    def tls_context(self) -> ssl.SSLContext | None:
        """The SSL context the transport uses: ``ssl_context``, else one trusting ``ca_bundle``,
        else ``None`` (aiohttp's default: the system store, verification on)."""
        if self.ssl_context is not None:
            return self.ssl_context
        if self.ca_bundle is None:
            return None
        # create_default_context keeps CERT_REQUIRED and check_hostname=True
        if os.path.isdir(self.ca_bundle):
            return ssl.create_default_context(capath=self.ca_bundle)
        return ssl.create_default_context(cafile=self.ca_bundle)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **settings: Any) -> LlmConfig:
        """Build from ``environ`` (default ``os.environ``): every provider in :data:`ENV` that has a
        variable set gets a :class:`ProviderConfig`; ``settings`` set the other fields."""
        env = os.environ if environ is None else environ
        if "redis_url" not in settings and env.get("INTERLINGUA_REDIS_URL"):  # hook: redis
            settings["redis_url"] = Secret(env["INTERLINGUA_REDIS_URL"])
        elif isinstance(settings.get("redis_url"), str):
            settings["redis_url"] = Secret(settings["redis_url"])
        providers = dict(settings.pop("providers", {}))
        if env.get("INTERLINGUA_CACHE") and "cache" not in settings:  # hook: cache
            settings["cache"] = env["INTERLINGUA_CACHE"]
        if "telemetry" not in settings and capture_content_from_env(env):  # hook: otel
            settings["telemetry"] = TelemetrySettings(capture_content=True)
        for name, spec in PROVIDER_ENV.items():
            if name in providers:
                continue
            cfg = provider_from_env(spec, env)
            if cfg is not None:
                if insecure_http_allowed(name, env):
                    cfg = msgspec.structs.replace(cfg, allow_insecure_http=True)
                providers[name] = cfg
        return cls(providers=providers, **settings)

    def provider(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig()

    def with_provider(self, name: str, **fields: Any) -> LlmConfig:
        """A copy with ``name``'s config replaced by one built from ``fields`` (keys wrapped in Secret)."""
        for k in ("api_key", "aws_secret_access_key", "aws_session_token", "bearer_token"):
            if isinstance(fields.get(k), str):
                fields[k] = Secret(fields[k])
        base = self.providers.get(name) or ProviderConfig()
        return msgspec.structs.replace(self, providers={**self.providers, name: msgspec.structs.replace(base, **fields)})


_TRUE = frozenset({"1", "true", "yes", "on"})


def insecure_http_allowed(provider: str, env: Mapping[str, str]) -> bool:
    """Whether the environment opts ``provider`` in to plain http to a non-loopback host (a LAN Ollama
    or vLLM box): ``INTERLINGUA_ALLOW_INSECURE_HTTP=1`` for every provider, or ``<PROVIDER>_ALLOW_INSECURE_HTTP=1``
    (``OLLAMA_ALLOW_INSECURE_HTTP``, ``OPENAI_COMPATIBLE_ALLOW_INSECURE_HTTP``, …).

    >>> insecure_http_allowed("ollama", {"OLLAMA_ALLOW_INSECURE_HTTP": "1"}), insecure_http_allowed("openai", {})
    (True, False)
    """
    for name in ("INTERLINGUA_ALLOW_INSECURE_HTTP", f"{provider.upper()}_ALLOW_INSECURE_HTTP"):
        if env.get(name, "").strip().lower() in _TRUE:
            return True
    return False


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        v = env.get(n)
        if v:
            return v
    return None


def provider_from_env(spec: ProviderEnv, env: Mapping[str, str]) -> ProviderConfig | None:
    if spec.build is not None:
        return spec.build(env)
    key = _first(env, spec.api_key)
    base = _first(env, spec.base_url)
    version = _first(env, spec.api_version)
    if key is None and base is None and version is None:
        return None
    if base is not None and spec.normalize_base_url is not None:
        base = spec.normalize_base_url(base)
    return ProviderConfig(api_key=Secret(key) if key else None, base_url=base, api_version=version)

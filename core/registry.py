"""One row per provider. Adding a provider is adding a row, never a branch.

Everything the library knows about a provider that is not wire format lives in its
:class:`ProviderSpec`: its name and aliases, where its dialect is, which bare model names are its,
what requests it accepts (:class:`ProviderRules`), how its prompt tokens are counted, its default
base URL, its capabilities, the *names* of its environment variables (``interlingua.effects.config``
reads them; core never reads the environment), its OpenTelemetry ``gen_ai.provider.name`` and the
command line's hints. ``core/models.py`` (parsing), ``core/validate.py`` (rules), ``core/tokens.py``
(counting), ``effects/config.py`` (environment) and ``effects/cli.py`` (hints) read these rows and
keep no table of their own.

* An OpenAI-compatible provider is one row whose dialect is an ``OpenAIDialect`` value.
* A new wire format is one row plus one dialect module.

A row names the module and attribute that hold the dialect; the module is imported on the first
lookup, so ``import interlingua`` does not pay for the Struct classes of eight dialects when a
program talks to one (each dialect module costs ~10-30 ms to import).

>>> "openai" in DIALECTS, len(DIALECTS) == len(list(DIALECTS))
(True, True)
>>> DIALECTS["openai"].name
'openai'
>>> SPECS["grok"].name, SPECS["gemini"].otel_name
('xai', 'gcp.gemini')
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Literal, cast

import msgspec
from returns.result import Failure, Result, Success

from .dialect import Dialect
from .errors import ErrorKind, LlmError

__all__ = [
    "DIALECTS",
    "PROVIDER_SPECS",
    "SPECS",
    "ProviderRules",
    "ProviderSpec",
    "get_dialect",
    "get_spec",
    "register",
    "unregister",
]


class ProviderRules(msgspec.Struct, frozen=True, kw_only=True):
    """What one provider accepts. ``None`` means "no constraint known"."""

    image_media_types: frozenset[str] | None = None
    image_urls: bool = True
    """Whether http(s) image URLs can be sent (otherwise the image must be inline data)."""
    tool_results_required: bool = True
    """Every assistant tool call must be answered by a tool result before the next user turn."""
    temperature: tuple[float, float] | None = None
    system_anywhere: bool = True
    """Whether system messages may appear after the first non-system message."""


TokenStrategy = Literal["tiktoken", "estimate"]
"""``tiktoken``: OpenAI's published counting rule (exact for OpenAI's models, estimate otherwise);
``estimate``: o200k_base plus OpenAI's framing, flagged ``exact=False``."""

ImageTokens = Literal["openai", "anthropic", "gemini"]
"""Whose published image-token formula an image in the prompt is priced with."""

Capability = Literal["chat", "stream", "tools", "vision", "json_schema", "reasoning", "count_tokens"]


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything about one provider except its wire format (which is its dialect's).

    ``env_*`` are environment variable *names*, first set wins; ``env_normalizer`` names a
    function of ``interlingua.effects.config.NORMALIZERS`` applied to the base URL read from the
    environment (``"aws"``: the provider's config is built from AWS's own variables instead).
    ``catalog`` is ``False`` for a provider whose models the bundled catalog does not list
    (local servers, proxies): its prices and limits come from a user's catalog, if any.
    """

    name: str
    dialect_module: str
    """Module of this package holding the dialect value (``"openai"`` → ``interlingua.core.openai``)."""
    dialect_attr: str
    aliases: tuple[str, ...] = ()
    detect: tuple[str, ...] = ()
    """Regular expressions (``re.match``) claiming bare model names for this provider, tried in row order."""
    rules: ProviderRules = ProviderRules(tool_results_required=False)
    tokens: TokenStrategy = "estimate"
    image_tokens: ImageTokens = "openai"
    default_base_url: str | None = None
    """``None``: the caller must give one (Azure's resource endpoint, a compatible server's URL)."""
    requires_max_tokens: bool = False
    """The API refuses a request without an output limit (Anthropic): :func:`~.prepare.prepare`
    fills it from the catalog entry, else the dialect's own default applies."""
    capabilities: frozenset[Capability] = frozenset({"chat", "stream"})
    env_api_key: tuple[str, ...] = ()
    env_base_url: tuple[str, ...] = ()
    env_api_version: tuple[str, ...] = ()
    env_normalizer: str | None = None
    otel_name: str = ""
    """OpenTelemetry semantic conventions' ``gen_ai.provider.name`` (well-known values where one exists)."""
    catalog: bool = True
    demo_model: str | None = None
    """A model the bundled fake serves, for the CLI's demo and hints."""
    key_hint: str | None = None
    """What the CLI says to do when this provider rejects the credentials (default: set the key variable)."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


_COMMON_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_OPENAI_RULES = ProviderRules(image_media_types=_COMMON_IMAGES, temperature=(0.0, 2.0))
_OPENAI_CAPS: frozenset[Capability] = frozenset({"chat", "stream", "tools", "vision", "json_schema", "reasoning"})

# Row order is the detection order of bare model names (it matters only where patterns overlap).
PROVIDER_SPECS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        name="openai",
        dialect_module="openai",
        dialect_attr="OPENAI",
        detect=(r"^(gpt-|chatgpt-|o1($|-)|o3($|-)|o4($|-)|text-embedding-|davinci|babbage|codex-)",),
        rules=_OPENAI_RULES,
        tokens="tiktoken",
        default_base_url="https://api.openai.com/v1",
        capabilities=_OPENAI_CAPS,
        env_api_key=("OPENAI_API_KEY",),
        env_base_url=("OPENAI_BASE_URL",),
        otel_name="openai",
        demo_model="openai:gpt-4o-mini",
    ),
    ProviderSpec(
        name="anthropic",
        dialect_module="anthropic",
        dialect_attr="ANTHROPIC",
        detect=(r"^claude-",),
        rules=ProviderRules(image_media_types=_COMMON_IMAGES, temperature=(0.0, 1.0)),
        image_tokens="anthropic",
        default_base_url="https://api.anthropic.com",
        requires_max_tokens=True,
        capabilities=_OPENAI_CAPS | {"count_tokens"},
        env_api_key=("ANTHROPIC_API_KEY",),
        env_base_url=("ANTHROPIC_BASE_URL",),
        otel_name="anthropic",
        demo_model="anthropic:claude-haiku-4-5",
    ),
    ProviderSpec(
        name="gemini",
        dialect_module="gemini",
        dialect_attr="GEMINI",
        aliases=("google",),
        detect=(r"^(gemini-|gemma-\d.*-it$|learnlm-)",),
        rules=ProviderRules(
            image_media_types=frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}),
            image_urls=False,
            temperature=(0.0, 2.0),
        ),
        image_tokens="gemini",
        default_base_url="https://generativelanguage.googleapis.com",
        capabilities=_OPENAI_CAPS | {"count_tokens"},
        # GEMINI_API_KEY first, as the brief asks (note: google-genai itself prefers GOOGLE_API_KEY when
        # both are set); GOOGLE_GEMINI_BASE_URL is the variable google-genai reads for the base URL.
        env_api_key=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        env_base_url=("GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"),
        otel_name="gcp.gemini",
        demo_model="gemini:gemini-2.5-flash",
    ),
    ProviderSpec(
        name="ollama",
        dialect_module="ollama",
        dialect_attr="OLLAMA",
        # Bare "name:tag" and local families are decided in models.detect_provider (after every row).
        rules=ProviderRules(
            image_media_types=frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"}),
            image_urls=False,
            tool_results_required=False,
        ),
        default_base_url="http://127.0.0.1:11434",
        capabilities=_OPENAI_CAPS,
        # OLLAMA_HOST as Ollama reads it ("host:port", bare host or URL). A LAN host over plain http
        # also needs allow_insecure_http=True (core.dialect.check_base_url); loopback never does.
        # OLLAMA_API_KEY only for ollama.com or an authenticating proxy.
        env_api_key=("OLLAMA_API_KEY",),
        env_base_url=("OLLAMA_HOST",),
        env_normalizer="ollama_host",
        otel_name="ollama",
        demo_model="ollama:llama3.2",
    ),
    ProviderSpec(
        name="azure",
        dialect_module="compat",
        dialect_attr="AZURE",
        rules=_OPENAI_RULES,
        tokens="tiktoken",  # Azure serves OpenAI's models; a deployment named after one counts exactly
        capabilities=_OPENAI_CAPS,
        # The openai SDK's AzureOpenAI reads the same three variables.
        env_api_key=("AZURE_OPENAI_API_KEY",),
        env_base_url=("AZURE_OPENAI_ENDPOINT",),
        env_api_version=("OPENAI_API_VERSION",),
        otel_name="azure.ai.openai",
        catalog=False,
        demo_model="azure:gpt-4o-mini",
    ),
    ProviderSpec(
        name="xai",
        dialect_module="compat",
        dialect_attr="XAI",
        aliases=("grok",),
        detect=(r"^grok-",),
        rules=_OPENAI_RULES,
        default_base_url="https://api.x.ai/v1",
        capabilities=_OPENAI_CAPS,
        env_api_key=("XAI_API_KEY",),
        env_base_url=("XAI_BASE_URL",),
        otel_name="x_ai",
        demo_model="xai:grok-3-mini",
    ),
    ProviderSpec(
        name="docker",
        dialect_module="compat",
        dialect_attr="DOCKER",
        aliases=("dmr",),
        detect=(r"^ai/[^/]+$",),
        rules=ProviderRules(tool_results_required=False, temperature=(0.0, 2.0)),
        default_base_url="http://localhost:12434/engines/v1",
        capabilities=frozenset({"chat", "stream", "tools"}),
        # DMR_BASE_URL is ours (the full OpenAI base); MODEL_RUNNER_HOST is the `docker model` CLI's own
        # variable and names only the runner (http://localhost:12434), so the engine path is added.
        env_base_url=("DMR_BASE_URL", "MODEL_RUNNER_HOST"),
        env_normalizer="dmr_base_url",
        # Not a registered gen_ai.provider.name value; the semantic conventions allow a custom one.
        otel_name="docker",
        demo_model="docker:ai/smollm2",
    ),
    ProviderSpec(
        name="bedrock",
        dialect_module="bedrock",
        dialect_attr="BEDROCK",
        # Bedrock ids: "<vendor>.<model>", inference profiles "<geo>.<vendor>.<model>", and ARNs.
        detect=(
            r"^(arn:aws[a-z-]*:bedrock:|((us|eu|apac|global|us-gov|jp|au|ca)\.)?"
            r"(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|writer|qwen|openai)\.[a-z0-9])",
        ),
        rules=ProviderRules(image_media_types=_COMMON_IMAGES, image_urls=False, temperature=(0.0, 1.0)),
        image_tokens="anthropic",
        default_base_url="https://bedrock-runtime.{region}.amazonaws.com",
        capabilities=frozenset({"chat", "stream", "tools", "vision", "reasoning"}),
        # AWS's standard variables, read as boto3 does (effects.config builds the SigV4 config).
        env_api_key=("AWS_BEARER_TOKEN_BEDROCK",),
        env_base_url=("AWS_ENDPOINT_URL_BEDROCK_RUNTIME",),
        env_normalizer="aws",
        otel_name="aws.bedrock",
        demo_model="bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
        key_hint="set AWS_BEARER_TOKEN_BEDROCK, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ),
    ProviderSpec(
        name="openai_compatible",
        dialect_module="compat",
        dialect_attr="OPENAI_COMPATIBLE",
        rules=ProviderRules(tool_results_required=False),
        capabilities=frozenset({"chat", "stream", "tools"}),
        env_api_key=("OPENAI_COMPATIBLE_API_KEY",),
        env_base_url=("OPENAI_COMPATIBLE_BASE_URL",),
        # It speaks OpenAI's wire format, but to someone else's server: telemetry must not count
        # its calls as OpenAI's, so it gets its own (custom) value, not "openai".
        otel_name="openai_compatible",
        catalog=False,
    ),
)


class _Specs(Mapping[str, ProviderSpec]):
    """Name or alias → row (iteration yields names only)."""

    __slots__ = ("_by_name", "_rows")

    def __init__(self) -> None:
        self._rows: dict[str, ProviderSpec] = {}
        self._by_name: dict[str, ProviderSpec] = {}

    def add(self, spec: ProviderSpec) -> None:
        self._rows[spec.name] = spec
        for n in spec.names:
            self._by_name[n] = spec

    def __getitem__(self, name: str) -> ProviderSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"SPECS({', '.join(self._rows)})"


SPECS = _Specs()
"""Provider name *or alias* → :class:`ProviderSpec`; iterating gives the provider names."""


class _LazyDialects(Mapping[str, "Dialect[Any]"]):
    """A read-only mapping over the rows that imports a dialect's module on its first lookup."""

    __slots__ = ("_loaded",)

    def __init__(self) -> None:
        self._loaded: dict[str, Dialect[Any]] = {}

    def __getitem__(self, name: str) -> Dialect[Any]:
        d = self._loaded.get(name)
        if d is None:
            spec = SPECS._rows[name]  # KeyError for an unknown name, as a dict
            module = importlib.import_module(f".{spec.dialect_module}", __package__)
            d = self._loaded[name] = _labelled(getattr(module, spec.dialect_attr), spec)
        return d

    def get(self, name: str, default: Any = None) -> Any:
        d = self._loaded.get(name)
        if d is not None:
            return d
        return self[name] if name in SPECS._rows else default

    def __contains__(self, name: object) -> bool:
        return name in SPECS._rows

    def __iter__(self) -> Iterator[str]:
        return iter(SPECS._rows)

    def __len__(self) -> int:
        return len(SPECS._rows)

    def __repr__(self) -> str:
        return f"DIALECTS({', '.join(SPECS._rows)})"


def _labelled(d: Dialect[Any], spec: ProviderSpec) -> Dialect[Any]:
    """A row that borrows another provider's dialect value (an OpenAI-compatible server named
    ``compat.OPENAI_COMPATIBLE``) gets a copy under its own name, model prefixes and base URL, so
    its errors and requests are its own: that is what makes a compatible provider one row. The
    row's ``default_base_url`` wins over the dialect value's."""
    if (d.name == spec.name and d.default_base_url == (spec.default_base_url or "")) or not dataclasses.is_dataclass(d):
        return d
    changes: dict[str, object] = {"name": spec.name}
    fields = {f.name for f in dataclasses.fields(d)}
    if "model_names" in fields:
        changes["model_names"] = spec.names
    if "default_base_url" in fields and spec.default_base_url is not None:
        changes["default_base_url"] = spec.default_base_url
    return cast("Dialect[Any]", dataclasses.replace(d, **changes))


_LAZY = _LazyDialects()
DIALECTS: Mapping[str, Dialect[Any]] = _LAZY

# get_dialect runs on every call: a found dialect's Success is built once per name (or alias).
_FOUND: dict[str, Success[Dialect[Any]]] = {}
_LISTENERS: list[Any] = []  # callables run after register() (models.py rebuilds its detection table)


def register(spec: ProviderSpec, dialect: Dialect[Any] | None = None) -> None:
    """Add (or replace) a provider row at run time; ``dialect`` is used instead of importing
    ``dialect_module``/``dialect_attr``. For an OpenAI-compatible server the row is the whole job::

        register(ProviderSpec(name="acme", dialect_module="compat", dialect_attr="OPENAI_COMPATIBLE",
                              default_base_url="https://llm.acme.test/v1", env_api_key=("ACME_API_KEY",)))

    (A permanent provider is a row in :data:`PROVIDER_SPECS` instead.)
    """
    SPECS.add(spec)
    _LAZY._loaded.pop(spec.name, None)
    if dialect is not None:
        _LAZY._loaded[spec.name] = dialect
    _changed()


def unregister(name: str) -> None:
    """Remove a row added by :func:`register` (tests, plugins)."""
    spec = SPECS._rows.pop(name)
    for n in spec.names:
        SPECS._by_name.pop(n, None)
    _LAZY._loaded.pop(name, None)
    _changed()


def _changed() -> None:
    _FOUND.clear()
    for listener in _LISTENERS:
        listener()


for _spec in PROVIDER_SPECS:
    SPECS.add(_spec)


def get_spec(provider: str) -> ProviderSpec | None:
    """The row for a provider name or alias, or ``None``."""
    return SPECS._by_name.get(provider)


def get_dialect(provider: str) -> Result[Dialect[Any], LlmError]:
    found = _FOUND.get(provider)
    if found is not None:
        return found
    spec = SPECS._by_name.get(provider)
    if spec is not None:
        found = _FOUND[provider] = Success(DIALECTS[spec.name])
        return found
    return Failure(
        LlmError(
            kind=ErrorKind.INVALID_MODEL,
            message=f"unknown provider {provider!r}; known: {', '.join(sorted(SPECS))}",
        )
    )

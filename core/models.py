"""Model strings: ``provider:model``, ``provider/model``, or a bare name we recognise.

>>> parse_model("ollama:llama3:8b").unwrap()
ModelRef(provider='ollama', model='llama3:8b')
>>> parse_model("llama3:8b").unwrap()
ModelRef(provider='ollama', model='llama3:8b')
>>> parse_model("anthropic/claude-sonnet-4-5").unwrap()
ModelRef(provider='anthropic', model='claude-sonnet-4-5')
>>> parse_model("google:gemini-2.5-flash").unwrap()
ModelRef(provider='gemini', model='gemini-2.5-flash')
>>> parse_model("bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0").unwrap()
ModelRef(provider='bedrock', model='anthropic.claude-3-5-sonnet-20240620-v1:0')
"""

from __future__ import annotations

import re

import msgspec
from returns.result import Failure, Result, Success

from .errors import ErrorKind, LlmError

__all__ = ["PROVIDERS", "PROVIDER_ALIASES", "ModelRef", "detect_provider", "parse_model"]

PROVIDERS: tuple[str, ...] = (
    "openai",
    "anthropic",
    "gemini",
    "ollama",
    "azure",
    "xai",
    "docker",
    "bedrock",
    "openai_compatible",
    "openai_responses",  # hook: responses
)
PROVIDER_ALIASES: dict[str, str] = {"google": "gemini", "grok": "xai", "dmr": "docker"}
_KNOWN = frozenset(PROVIDERS) | frozenset(PROVIDER_ALIASES)


class ModelRef(msgspec.Struct, frozen=True):
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


# Bare-name detection, first match wins. Order matters only where prefixes overlap.
_DETECT: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), provider)
    for p, provider in (
        (r"^(gpt-|chatgpt-|o1($|-)|o3($|-)|o4($|-)|text-embedding-|davinci|babbage|codex-)", "openai"),
        (r"^claude-", "anthropic"),
        (r"^(gemini-|gemma-\d.*-it$|learnlm-)", "gemini"),
        (r"^grok-", "xai"),
        (r"^ai/[^/]+$", "docker"),
        # Bedrock ids: "<vendor>.<model>", inference profiles "<geo>.<vendor>.<model>", and ARNs.
        (
            r"^(arn:aws[a-z-]*:bedrock:|((us|eu|apac|global|us-gov|jp|au|ca)\.)?"
            r"(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|writer|qwen|openai)\.[a-z0-9])",
            "bedrock",
        ),
    )
)
_LOCAL_FAMILIES = re.compile(
    r"^(llama|codellama|mistral|mixtral|qwen|phi|gemma|deepseek|starcoder|smollm|tinyllama|"
    r"granite|olmo|nomic|mxbai|llava|moondream|falcon|vicuna|orca|nous|dolphin|command-r|yi|"
    r"internlm|wizard|zephyr|openchat|neural-chat|stablelm|solar|exaone|cogito|magistral|devstral)",
)

_FORMS = (
    "'provider:model' (e.g. 'openai:gpt-4o', 'ollama:llama3:8b'), 'provider/model', or a bare name "
    "of a known family (gpt-*, o1/o3/o4*, claude-*, gemini-*, grok-*, ai/<name>, llama3:8b, …)"
)


def detect_provider(name: str) -> str | None:
    """The provider a bare model name belongs to, or ``None``.

    >>> detect_provider("gpt-4o"), detect_provider("claude-3-haiku"), detect_provider("qwen2.5:7b")
    ('openai', 'anthropic', 'ollama')
    """
    for pattern, provider in _DETECT:
        if pattern.match(name):
            return provider
    if "/" in name:
        return None
    if ":" in name or _LOCAL_FAMILIES.match(name.lower()):
        return "ollama"
    return None


def parse_model(s: str) -> Result[ModelRef, LlmError]:
    """Split a model string into provider and model id; unknown forms are a Failure, never a guess."""
    if not isinstance(s, str) or not s.strip():
        return Failure(_unknown(repr(s), "the model string is empty"))
    s = s.strip()
    for sep in (":", "/"):
        prefix, found, rest = s.partition(sep)
        if found and prefix.lower() in _KNOWN:
            if not rest:
                return Failure(_unknown(s, f"no model id after '{prefix}{sep}'"))
            named = prefix.lower()
            return Success(ModelRef(PROVIDER_ALIASES.get(named, named), rest))
    detected = detect_provider(s)
    if detected is None:
        return Failure(_unknown(s, "no provider prefix and the name matches no known model family"))
    return Success(ModelRef(detected, s))


def _unknown(s: str, why: str) -> LlmError:
    return LlmError(
        kind=ErrorKind.INVALID_MODEL,
        message=f"cannot tell which provider serves {s}: {why}. Known providers: "
        f"{', '.join(PROVIDERS)} (aliases: {', '.join(f'{k}={v}' for k, v in PROVIDER_ALIASES.items())}). "
        f"Accepted forms: {_FORMS}.",
    )

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
from .registry import _LISTENERS, SPECS

__all__ = ["PROVIDERS", "PROVIDER_ALIASES", "ModelRef", "detect_provider", "parse_model"]

# Sourced from the provider rows (core/registry.py); rebuilt when a row is registered at run time.
PROVIDERS: tuple[str, ...] = ()
PROVIDER_ALIASES: dict[str, str] = {}
_KNOWN: frozenset[str] = frozenset()


class ModelRef(msgspec.Struct, frozen=True):
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


# Bare-name detection, first match wins: the rows' ``detect`` patterns in row order.
_DETECT: tuple[tuple[re.Pattern[str], str], ...] = ()


def _from_rows() -> None:
    global PROVIDERS, _KNOWN, _DETECT
    specs = tuple(SPECS[name] for name in SPECS)
    PROVIDERS = tuple(s.name for s in specs)
    PROVIDER_ALIASES.clear()
    PROVIDER_ALIASES.update({a: s.name for s in specs for a in s.aliases})
    _KNOWN = frozenset(PROVIDERS) | frozenset(PROVIDER_ALIASES)
    _DETECT = tuple((re.compile(p), s.name) for s in specs for p in s.detect)


_from_rows()
_LISTENERS.append(_from_rows)

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

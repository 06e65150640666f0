"""Model strings: ``provider:model``, ``provider/model``, or a bare name we recognise.

The rules, in order (the README's "Model strings" section says the same):

1. ``provider:model`` or ``provider/model`` with a known provider name or alias routes there; the
   model id must not be empty, a URL dot segment (``.``, ``..``) or hold a control character.
2. A bare name matching a provider row's pattern (``gpt-*``, ``claude-*``, ``gemini-*``, ``ai/…``) goes
   to that provider.
3. A prefix within edit distance 2 of a provider name or alias (``opnai:gpt-4o-mini``) is refused
   with "did you mean 'openai'?" — unless it is a known local model family (``gemma``, ``llama``).
4. A bare ``name:tag`` is Ollama's only when ``name`` is a known local family (llama, qwen, gemma,
   mistral, …) or the tag looks like an Ollama tag: ``latest``, a size (``8b``, ``70b``, ``1.5b``,
   ``135m``, ``8x7b``), a version (``3``, ``v1.5``), a quantisation (``q4_K_M``, ``q8_0``, ``fp16``)
   or those joined by ``-`` with ``instruct``/``chat``/``text``/``code``/``vision``/``it``.
   A bare family name without a tag (``mistral``) is Ollama's too. Empty parts (``:``, ``:gpt-4o``,
   ``llama3:``) are refused. Anything else is ``invalid_model``, never a guess.

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
from .shared import model_id_problem

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


_TAG_PART = re.compile(
    r"latest|v?\d+(?:\.\d+)*[bmk]?|\d+x\d+[bm]|e\d+b|i?q\d+(?:_[a-z0-9]+)*|fp\d+|bf16|int[48]"
    r"|instruct|chat|text|code|base|vision|it|preview|mini|small|medium|large|qat",
    re.IGNORECASE,
)


def _ollama_tag(tag: str) -> bool:
    """``latest``, ``8b``, ``7b-instruct-q4_K_M``, ``v1.5``, ``fp16``: a tag as Ollama's library writes them.

    >>> _ollama_tag("7b-instruct-q4_K_M"), _ollama_tag("gpt-4o-mini")
    (True, False)
    """
    return bool(tag) and all(_TAG_PART.fullmatch(part) for part in tag.split("-"))


def _by_pattern(name: str) -> str | None:
    for pattern, provider in _DETECT:
        if pattern.match(name):
            return provider
    return None


def detect_provider(name: str) -> str | None:
    """The provider a bare model name belongs to, or ``None``.

    >>> detect_provider("gpt-4o"), detect_provider("claude-3-haiku"), detect_provider("qwen2.5:7b")
    ('openai', 'anthropic', 'ollama')
    >>> detect_provider("mymodel:latest"), detect_provider("acme:gpt-4o-mini")
    ('ollama', None)
    """
    found = _by_pattern(name)
    if found is not None or "/" in name:
        return found
    family, sep, tag = name.partition(":")
    if not family or (sep and not tag):
        return None
    if _LOCAL_FAMILIES.match(family.lower()) or (sep and _ollama_tag(tag)):
        return "ollama"
    return None


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short strings only: provider names)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _misspelled(prefix: str) -> str | None:
    """The provider name or alias ``prefix`` is probably a typo of (distance ≤ 2, and less than the
    name's length - 1 so that three-letter names need a near match), or ``None``."""
    p = prefix.lower()
    if not p or _LOCAL_FAMILIES.match(p):
        return None
    best = min(((_distance(p, k), k) for k in sorted(_KNOWN)), default=(99, ""))
    d, name = best
    return name if d <= 2 and d < len(name) - 1 else None


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
            if (problem := model_id_problem(rest)) is not None:
                return Failure(_unknown(s, problem))
            named = prefix.lower()
            return Success(ModelRef(PROVIDER_ALIASES.get(named, named), rest))
    if (problem := model_id_problem(s)) is not None:
        return Failure(_unknown(s, problem))
    head, sep, tail = s.partition(":")
    if sep and (not head or not tail):
        return Failure(_unknown(s, "a part of the model string is empty"))
    detected = _by_pattern(s)
    if detected is None:
        typo = _misspelled(re.split(r"[:/]", s, maxsplit=1)[0]) if (":" in s or "/" in s) else None
        if typo is not None:
            return Failure(_unknown(s, f"unknown provider prefix: did you mean {typo!r}?"))
        detected = detect_provider(s)
    if detected is None:
        return Failure(_unknown(s, "no provider prefix and the name matches no known model family"))
    return Success(ModelRef(detected, s))


def _unknown(s: str, why: str) -> LlmError:
    return LlmError(
        kind=ErrorKind.INVALID_MODEL,
        message=f"cannot tell which provider serves {s!r}: {why}. Known providers: "
        f"{', '.join(PROVIDERS)} (aliases: {', '.join(f'{k}={v}' for k, v in PROVIDER_ALIASES.items())}). "
        f"Accepted forms: {_FORMS}.",
    )

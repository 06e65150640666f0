"""Token counting, offline: tiktoken encodings built from the rank files vendored in ``core/data``.

tiktoken normally downloads its BPE files on first use; here they ship as package data (see
``data/TIKTOKEN_PROVENANCE.md``) and are verified against the SHA-256 that tiktoken itself expects
before use. Reading our own package data is the one read core does, done once per encoding.

>>> enc = get_encoding("o200k_base")
>>> enc.encode("hello world")
[24912, 2375]

:func:`count_tokens` counts a whole conversation the way the provider bills it. For OpenAI chat
models the count is exact (``exact=True``) wherever OpenAI has published the rule; everything else
is an offline estimate and says so (``exact=False``).

>>> count_tokens("openai:gpt-4o", [Message.user("Say hi")])
TokenCount(count=9, exact=True, encoding='o200k_base')
>>> count_tokens("anthropic:claude-sonnet-4-5", [Message.user("Say hi")]).exact
False
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from returns.result import Success

from .models import parse_model
from .registry import SPECS
from .schema import ImagePart, Message, ReasoningPart, Role, TextPart, ToolSpec

if TYPE_CHECKING:  # imported on first use: tiktoken's extension module costs ~15-30 ms at import
    import tiktoken

__all__ = [
    "ENCODINGS",
    "TokenCount",
    "anthropic_image_tokens",
    "count_tokens",
    "encoding_for_model",
    "gemini_image_tokens",
    "get_encoding",
    "openai_image_tokens",
    "token_upper_bound",
]

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

# name -> (file, sha256 of the decompressed file, pat_str, special tokens), as tiktoken_ext/openai_public.py.
ENCODINGS: dict[str, tuple[str, str, str, dict[str, int]]] = {
    "cl100k_base": (
        "cl100k_base.tiktoken.gz",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        {_ENDOFTEXT: 100257, _FIM_PREFIX: 100258, _FIM_MIDDLE: 100259, _FIM_SUFFIX: 100260, _ENDOFPROMPT: 100276},
    ),
    "o200k_base": (
        "o200k_base.tiktoken.gz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}


class CorruptRankFile(RuntimeError):
    """The vendored rank file does not match tiktoken's expected hash: the package is damaged."""


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    import base64

    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if not line:
            continue
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, built offline; raises ``KeyError`` for an encoding we do not ship."""
    # Imported with the first encoding built, not with the package.
    import gzip
    from importlib import resources

    import tiktoken

    file, expected, pat_str, special = ENCODINGS[name]
    raw = gzip.decompress(resources.files(__package__).joinpath("data", file).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise CorruptRankFile(f"{file}: sha256 {digest} != expected {expected}")
    return tiktoken.Encoding(name=name, pat_str=pat_str, mergeable_ranks=_parse_ranks(raw), special_tokens=special)


# Longest prefix wins; everything newer than GPT-4 Turbo uses o200k_base.
_MODEL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada", "cl100k_base"),
)


@functools.lru_cache(maxsize=256)
def encoding_for_model(model: str) -> str | None:
    """The encoding name an OpenAI model uses, or ``None`` when it is not an OpenAI model.

    >>> encoding_for_model("gpt-4o-mini-2024-07-18"), encoding_for_model("gpt-4-0613"), encoding_for_model("llama3")
    ('o200k_base', 'cl100k_base', None)
    """
    best: tuple[int, str] | None = None
    for prefix, enc in _MODEL_PREFIXES:
        if model.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), enc)
    return best[1] if best else None


# -- counting a conversation ----------------------------------------------------------------------


class TokenCount(msgspec.Struct, frozen=True):
    """How many prompt tokens a request costs; ``exact`` says whether it follows a published rule."""

    count: int
    exact: bool
    encoding: str | None = None


# OpenAI's cookbook, "How to count tokens with tiktoken" (examples/How_to_count_tokens_with_tiktoken.ipynb,
# section 6): every message is framed as <|start|>{role/name}\n{content}<|end|>\n, which costs 3 tokens
# on top of the encoded values, a ``name`` costs 1 more, and every reply is primed with
# <|start|>assistant<|message|>, 3 tokens. The notebook checks this against the API's ``prompt_tokens``
# for gpt-3.5-turbo, gpt-4, gpt-4o and gpt-4o-mini (tests/test_tokens.py replays those pairs).
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_NAME = 1
_REPLY_PRIMING = 3


class _ToolRule(msgspec.Struct, frozen=True):
    """The per-tool constants of the cookbook's ``num_tokens_for_tools`` (section 7), per encoding."""

    func_init: int
    prop_init: int
    prop_key: int
    enum_init: int
    enum_item: int
    func_end: int


# gpt-4o / gpt-4o-mini (o200k_base) use func_init=7, gpt-3.5-turbo / gpt-4 (cl100k_base) use 10; the
# notebook verifies both against the API (101 and 105 prompt tokens for its weather example).
_TOOL_RULES: Mapping[str, _ToolRule] = {
    "o200k_base": _ToolRule(func_init=7, prop_init=3, prop_key=3, enum_init=-3, enum_item=3, func_end=12),
    "cl100k_base": _ToolRule(func_init=10, prop_init=3, prop_key=3, enum_init=-3, enum_item=3, func_end=12),
}


# A conversation resends its history (and system prompt) on every turn and the budget counts each
# call's prompt, so the lengths of recent short texts are memoised; long texts are counted afresh
# to keep the cache small (at most _CACHED_ENTRIES x _CACHED_CHARS characters held).
_CACHED_CHARS = 8192
_CACHED_ENTRIES = 256


def _encode_len(enc: tiktoken.Encoding, text: str) -> int:
    if not text:
        return 0
    if len(text) <= _CACHED_CHARS:
        return _cached_len(enc, text)
    return _count(enc, text)


def _count(enc: tiktoken.Encoding, text: str) -> int:
    # Special-token text in user content is ordinary text to the API; never let tiktoken raise on it.
    return len(enc.encode(text, disallowed_special=()))


_cached_len = functools.lru_cache(maxsize=_CACHED_ENTRIES)(_count)


def _tool_tokens(enc: tiktoken.Encoding, rule: _ToolRule, tools: Sequence[ToolSpec]) -> tuple[int, bool]:
    """The cookbook's tool-definition count, and whether every tool had the shape it was verified on
    (flat properties, each with a type). Nested schemas are counted the same way but flagged inexact."""
    if not tools:
        return 0, True
    total, exact = 0, True
    for t in tools:
        total += rule.func_init
        desc = (t.description or "").removesuffix(".")
        total += _encode_len(enc, f"{t.name}:{desc}")
        props = t.parameters.get("properties") if isinstance(t.parameters, dict) else None
        if not isinstance(props, dict):
            exact = exact and props is None
            continue
        if props:
            total += rule.prop_init
        for key, spec in props.items():
            total += rule.prop_key
            spec = spec if isinstance(spec, dict) else {}
            p_type = spec.get("type")
            if not isinstance(p_type, str) or p_type in ("object", "array") or "anyOf" in spec:
                exact = False
            enum = spec.get("enum")
            if isinstance(enum, list):
                total += rule.enum_init
                for item in enum:
                    total += rule.enum_item + _encode_len(enc, str(item))
            p_desc = str(spec.get("description") or "").removesuffix(".")
            total += _encode_len(enc, f"{key}:{p_type}:{p_desc}")
    return total + rule.func_end, exact


# OpenAI "Images and vision" guide, "Calculating costs": tile-billed models cost ``base`` tokens plus
# ``tile`` tokens per 512px square after scaling; ``detail: low`` costs ``base`` alone. Patch-billed
# models cost 32px patches (at most 1536) times a multiplier. Longest prefix wins.
_IMAGE_TILES: tuple[tuple[str, int, int], ...] = (
    ("gpt-4o", 85, 170),
    ("chatgpt-4o", 85, 170),
    ("gpt-4o-mini", 2833, 5667),
    ("gpt-4.1", 85, 170),
    ("gpt-4.5", 85, 170),
    ("gpt-4-turbo", 85, 170),
    ("o1", 75, 150),
    ("o3", 75, 150),
)
_IMAGE_PATCHES: tuple[tuple[str, float], ...] = (
    ("gpt-4.1-mini", 1.62),
    ("gpt-4.1-nano", 2.46),
    ("o4-mini", 1.72),
)


def _longest_prefix(model: str, table: Sequence[tuple[Any, ...]]) -> tuple[Any, ...] | None:
    best: tuple[Any, ...] | None = None
    for row in table:
        if model.startswith(row[0]) and (best is None or len(row[0]) > len(best[0])):
            best = row
    return best


def openai_image_tokens(model: str, width: int | None, height: int | None, detail: str | None = None) -> tuple[int, bool]:
    """Image tokens for an OpenAI model, and whether the count is exact.

    Unknown dimensions give the largest count the image could cost (2048x768 after scaling: 8 tiles),
    flagged inexact; so do ``detail="auto"`` (OpenAI picks) and models missing from the published table.

    >>> openai_image_tokens("gpt-4o", 1024, 1024, "high")        # OpenAI's worked example
    (765, True)
    >>> openai_image_tokens("gpt-4o", 2048, 4096, "high")        # the other one
    (1105, True)
    >>> openai_image_tokens("gpt-4o", 4096, 8192, "low")
    (85, True)
    >>> openai_image_tokens("gpt-4.1-mini", 1800, 2400)           # 1452 patches x 1.62
    (2353, False)
    """
    patch = _longest_prefix(model, _IMAGE_PATCHES)
    tile = _longest_prefix(model, _IMAGE_TILES)
    if patch is not None and (tile is None or len(patch[0]) > len(tile[0])):
        if width is None or height is None:
            return math.ceil(1536 * patch[1]), False
        return math.ceil(_patches(width, height) * patch[1]), False
    known = tile is not None
    base, per_tile = (tile[1], tile[2]) if tile is not None else (85, 170)
    if detail == "low":
        return base, known
    if width is None or height is None or width <= 0 or height <= 0:
        return base + per_tile * 8, False
    return base + per_tile * _tiles(width, height), known and detail == "high"


def _tiles(width: int, height: int) -> int:
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    return math.ceil(w / 512) * math.ceil(h / 512)


def _patches(width: int, height: int) -> int:
    patches = math.ceil(width / 32) * math.ceil(height / 32)
    if patches <= 1536:
        return patches
    # Shrink so the image fits 1536 patches, then shrink further so a whole number of patches spans
    # the narrower fit (OpenAI's published steps; 1800x2400 -> 1056x1408 -> 1452 patches).
    r = math.sqrt(32 * 32 * 1536 / (width * height))
    r *= min(math.floor(width * r / 32) / (width * r / 32), math.floor(height * r / 32) / (height * r / 32))
    return min(1536, math.ceil(int(width * r) / 32) * math.ceil(int(height * r) / 32))


def anthropic_image_tokens(width: int | None, height: int | None) -> int:
    """Anthropic's published estimate, ``tokens = (width * height) / 750``, after its resize of the long
    edge to at most 1568px (so at most ~1600 tokens); unknown dimensions count as that maximum.

    >>> anthropic_image_tokens(1000, 1000)
    1334
    >>> anthropic_image_tokens(None, None)
    1600
    """
    if width is None or height is None or width <= 0 or height <= 0:
        return 1600
    w, h = float(width), float(height)
    if max(w, h) > 1568:
        scale = 1568 / max(w, h)
        w, h = w * scale, h * scale
    return min(1600, math.ceil(w * h / 750))


def gemini_image_tokens(width: int | None, height: int | None) -> int:
    """Gemini's documented rule: 258 tokens when both sides are at most 384px, else 258 per 768px tile.

    >>> gemini_image_tokens(300, 300), gemini_image_tokens(1024, 1024)
    (258, 1032)
    """
    if width is None or height is None or width <= 0 or height <= 0:
        return 258 * 4
    if width <= 384 and height <= 384:
        return 258
    return 258 * math.ceil(width / 768) * math.ceil(height / 768)


def _text_of_part(part: Any) -> str:
    match part:
        case TextPart(text=t):
            return t
        case ReasoningPart():
            return ""  # chat completions do not take reasoning back
        case _:
            return ""


def _count_openai(model: str, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> TokenCount:
    name = encoding_for_model(model)
    if name is None:
        return _estimate("openai", model, messages, tools)
    enc = get_encoding(name)
    exact = True
    total = _REPLY_PRIMING
    for m in messages:
        total += _TOKENS_PER_MESSAGE + _encode_len(enc, m.role.value)
        if isinstance(m.content, str):
            total += _encode_len(enc, m.content)
        else:
            for p in m.content:
                if isinstance(p, ImagePart):
                    n, ok = openai_image_tokens(model, p.width, p.height, p.detail)
                    total += n
                    exact = exact and ok
                else:
                    total += _encode_len(enc, _text_of_part(p))
        if m.name:
            total += _encode_len(enc, m.name) + _TOKENS_PER_NAME
        # Tool calls and tool results have no published framing: counted as their JSON, flagged inexact.
        for c in m.tool_calls:
            total += _encode_len(enc, c.name) + _encode_len(enc, c.arguments) + _TOKENS_PER_MESSAGE
            exact = False
        if m.tool_call_id is not None:
            total += _encode_len(enc, m.tool_call_id)
            exact = False
    n_tools, tools_exact = _tool_tokens(enc, _TOOL_RULES[name], tools)
    return TokenCount(total + n_tools, exact and tools_exact, name)


# Images in other providers' estimates: each provider's own published formula (the row's ``image_tokens``).
_IMAGE_ESTIMATES: Mapping[str, Callable[[ImagePart], int]] = {
    "anthropic": lambda p: anthropic_image_tokens(p.width, p.height),
    "gemini": lambda p: gemini_image_tokens(p.width, p.height),
}


def _estimate(provider: str, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> TokenCount:
    """An offline estimate for providers whose tokenizer is not public (Claude, Gemini, Grok, local models).

    Text is counted with ``o200k_base`` plus the same per-message framing as OpenAI's, tools as their
    JSON. Real counts differ by tokenizer — typically by 10-30% for English and more for code or other
    scripts — which is why the result is ``exact=False`` and the budget applies a margin to it. The
    exact figures come from the providers' count-tokens endpoints (``Client.count_tokens``).
    """
    enc = get_encoding("o200k_base")
    def openai_like(p: ImagePart) -> int:
        return openai_image_tokens(model, p.width, p.height, p.detail)[0]

    spec = SPECS._by_name.get(provider)
    image: Callable[[ImagePart], int] = _IMAGE_ESTIMATES.get(spec.image_tokens if spec else "openai", openai_like)
    total = _REPLY_PRIMING
    for m in messages:
        total += _TOKENS_PER_MESSAGE + _encode_len(enc, m.role.value)
        if isinstance(m.content, str):  # the usual message: no parts to build
            total += _encode_len(enc, m.content)
        else:
            for p in m.content:
                total += image(p) if isinstance(p, ImagePart) else _encode_len(enc, _text_of_part(p))
        for c in m.tool_calls:
            total += _encode_len(enc, c.name) + _encode_len(enc, c.arguments) + _TOKENS_PER_MESSAGE
        if m.name:
            total += _encode_len(enc, m.name) + _TOKENS_PER_NAME
    for t in tools:
        total += _encode_len(enc, msgspec.json.encode(t).decode())
    return TokenCount(total, False, None)


# The row's ``tokens`` strategy: "tiktoken" rows count with OpenAI's published rule (Azure serves
# OpenAI's models; a deployment named after one counts exactly), the rest are estimated.
_COUNTERS: Mapping[str, Callable[[str, Sequence[Message], Sequence[ToolSpec]], TokenCount]] = {
    "tiktoken": _count_openai,
}


# len(role.value) without the enum's property frames
_ROLE_SIZE: Mapping[Role, int] = {r: len(r.value) for r in Role}


def _utf8_bound(s: str) -> int:
    # an ASCII string's length is its UTF-8 size (str.isascii is O(1) in CPython); else 4 bytes a code point at most
    return len(s) if s.isascii() else 4 * len(s)


def token_upper_bound(messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int | None:
    """A cheap upper bound of what :func:`count_tokens` returns for ``messages``, without a tokenizer,
    or ``None`` when there is none this cheap (images, tool definitions).

    Every token of a byte-level BPE (``cl100k_base``, ``o200k_base``) is at least one byte, so a text
    costs at most its UTF-8 size; the framing adds the same constants :func:`count_tokens` adds.

    >>> msgs = [Message.user("How many tokens is this?")]
    >>> count_tokens("openai:gpt-4o", msgs).count <= token_upper_bound(msgs)
    True
    """
    if tools:
        return None
    total = _REPLY_PRIMING
    for m in messages:
        total += _TOKENS_PER_MESSAGE + _ROLE_SIZE[m.role]
        content = m.content
        if type(content) is str:  # inline _utf8_bound: the per-request path of the guard (issue 19)
            total += len(content) if content.isascii() else 4 * len(content)
        elif isinstance(content, str):
            total += _utf8_bound(content)
        else:
            for p in m.content:
                if isinstance(p, ImagePart):
                    return None
                total += _utf8_bound(_text_of_part(p))
        if m.name:
            total += _utf8_bound(m.name) + _TOKENS_PER_NAME
        for c in m.tool_calls:
            total += _utf8_bound(c.name) + _utf8_bound(c.arguments) + _TOKENS_PER_MESSAGE
        if m.tool_call_id is not None:
            total += _utf8_bound(m.tool_call_id)
    return total


def count_tokens(model: str, messages: Sequence[Message] | str, tools: Sequence[ToolSpec] | None = None) -> TokenCount:
    """The prompt tokens ``messages`` (and ``tools``) cost on ``model`` (``provider:model`` or a bare name).

    Total: an unknown model string gets an estimate, never an exception.

    >>> count_tokens("gpt-4o-mini", "tiktoken is great!")
    TokenCount(count=13, exact=True, encoding='o200k_base')
    >>> count_tokens("mystery", "hello").exact
    False
    """
    msgs: Sequence[Message] = (Message.user(messages),) if isinstance(messages, str) else messages
    provider, name = _split_model(model)
    spec = SPECS._by_name.get(provider)
    counter = _COUNTERS.get(spec.tokens) if spec is not None else None
    if counter is not None:
        return counter(name, msgs, tuple(tools or ()))
    return _estimate(provider, name, msgs, tuple(tools or ()))


@functools.lru_cache(maxsize=256)
def _split_model(model: str) -> tuple[str, str]:
    """(provider, model id) of a model string; ``("", model)`` when it names no provider."""
    match parse_model(model):
        case Success(ref):
            return ref.provider, ref.model
        case _:
            return "", model

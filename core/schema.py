"""The one data model every provider is translated to and from.

>>> req = ChatRequest(model="openai:gpt-4o-mini", messages=(Message.system("Be brief."), Message.user("Hi")))
>>> req.messages[1].text
'Hi'
>>> msgspec.json.decode(msgspec.json.encode(req), type=ChatRequest) == req
True
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

import msgspec

__all__ = [
    "CacheControl",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "FinishReason",
    "ImagePart",
    "Message",
    "ModelInfo",
    "Part",
    "ReasoningConfig",
    "ReasoningPart",
    "ResponseFormat",
    "Role",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolSpec",
    "Usage",
]


class Role(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


# The member the per-request code builds with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_ASSISTANT = Role.ASSISTANT


class CacheControl(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A prompt-cache breakpoint: the provider may cache the prompt up to and including the thing
    it is set on (a message, a text part, a tool; a system message for the system prompt).

    Encoded as Anthropic ``cache_control`` and Bedrock Converse ``cachePoint`` (at most 4 per
    request, checked before sending); OpenAI and Gemini cache long prompts on their own and ignore
    it. ``ttl`` is how long the provider keeps the entry: ``"5m"`` (default) or ``"1h"`` (written
    at a higher price where the provider charges one).

    >>> Message.user("a long document ...", cache=CacheControl(ttl="1h")).cache.ttl
    '1h'
    """

    ttl: Literal["5m", "1h"] = "5m"


class TextPart(msgspec.Struct, frozen=True, tag="text", omit_defaults=True):
    text: str
    cache: CacheControl | None = None
    """A prompt-cache breakpoint after this part (see :class:`CacheControl`)."""


class ImagePart(msgspec.Struct, frozen=True, tag="image", kw_only=True):
    """An image by ``url`` (https or ``data:``) or inline as base64 ``data`` with its ``media_type``."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    width: int | None = None
    """Pixel size, when the caller knows it: used only to count image tokens before sending."""
    height: int | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise ValueError("ImagePart takes exactly one of url= or data=")
        if self.data is not None and not self.media_type:
            raise ValueError("ImagePart(data=...) needs media_type, e.g. 'image/png'")


class ReasoningPart(msgspec.Struct, frozen=True, tag="reasoning", kw_only=True):
    """The model's visible reasoning ("thinking"), kept apart from the answer.

    ``signature`` (Anthropic, Gemini ``thoughtSignature``) and ``redacted`` data must be sent back
    unchanged in multi-turn tool conversations, so they are kept verbatim.
    """

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


Part = TextPart | ImagePart | ReasoningPart


class ToolCall(msgspec.Struct, frozen=True):
    """A call the model asked for. ``arguments`` is the raw JSON text exactly as the model produced it."""

    id: str
    name: str
    arguments: str = "{}"
    signature: str | None = None
    """An opaque provider token that must travel back with the call (Gemini ``thoughtSignature``)."""

    def parsed_arguments(self) -> Any:
        """The arguments decoded (raises ``msgspec.DecodeError`` if the model wrote invalid JSON)."""
        return msgspec.json.decode(self.arguments or "{}")


class Message(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    role: Role
    content: str | tuple[Part, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    refusal: str | None = None
    cache: CacheControl | None = None
    """A prompt-cache breakpoint after this message's content (see :class:`CacheControl`)."""

    def __post_init__(self) -> None:
        # Accept Message(role="user", ...) from hand-written code: store the enum, so every
        # dialect can compare with ``is``. An unknown role is a ValueError naming the valid ones.
        if type(self.role) is not Role:
            try:
                role = Role(self.role)
            except ValueError:
                raise ValueError(f"unknown role {self.role!r}; expected one of {[r.value for r in Role]}") from None
            msgspec.structs.force_setattr(self, "role", role)

    @classmethod
    def system(cls, text: str, *, cache: CacheControl | None = None) -> Message:
        return cls(role=Role.SYSTEM, content=text, cache=cache)

    @classmethod
    def user(cls, content: str | Iterable[Part], *, cache: CacheControl | None = None) -> Message:
        return cls(role=Role.USER, content=content if isinstance(content, str) else tuple(content), cache=cache)

    @classmethod
    def assistant(
        cls, content: str | Iterable[Part] = "", tool_calls: Iterable[ToolCall] = ()
    ) -> Message:
        return cls(
            role=Role.ASSISTANT,
            content=content if isinstance(content, str) else tuple(content),
            tool_calls=tuple(tool_calls),
        )

    @classmethod
    def tool(
        cls, tool_call_id: str, content: str, *, name: str | None = None, is_error: bool = False
    ) -> Message:
        """The result of running tool call ``tool_call_id``."""
        return cls(role=Role.TOOL, content=content, tool_call_id=tool_call_id, name=name, is_error=is_error)

    @property
    def parts(self) -> tuple[Part, ...]:
        if isinstance(self.content, str):
            return (TextPart(self.content),) if self.content else ()
        return self.content

    @property
    def text(self) -> str:
        """The answer text: every text part joined, reasoning left out."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def reasoning(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, ReasoningPart))


def assistant_text(text: str, *, refusal: str | None = None) -> Message:
    """The normal form of a text-only assistant turn: what :func:`assistant_message` returns for
    one text part and no calls (decoders call it directly for the common answer)."""
    return Message(role=_ASSISTANT, content=text, tool_calls=(), refusal=refusal)


def assistant_message(
    parts: Iterable[Part], tool_calls: Iterable[ToolCall] = (), *, refusal: str | None = None
) -> Message:
    """The one normal form every decoder (and the stream fold) uses for an assistant turn.

    Adjacent text parts are joined; a turn with only text has plain ``str`` content, so that a
    streamed answer and its non-streamed twin compare equal.
    """
    if type(parts) in (list, tuple) and len(parts) == 1 and type(parts[0]) is TextPart and not tool_calls:  # type: ignore[arg-type,index]
        # The common answer, one text part and no calls: same result as the loop below, without it.
        return assistant_text(parts[0].text, refusal=refusal)  # type: ignore[index]
    merged: list[Part] = []
    for p in parts:
        if isinstance(p, TextPart):
            if not p.text:
                continue
            if merged and isinstance(merged[-1], TextPart):
                merged[-1] = TextPart(merged[-1].text + p.text)
                continue
        merged.append(p)
    content: str | tuple[Part, ...]
    if all(isinstance(p, TextPart) for p in merged):
        content = "".join(p.text for p in merged if isinstance(p, TextPart))
    else:
        content = tuple(merged)
    return Message(role=Role.ASSISTANT, content=content, tool_calls=tuple(tool_calls), refusal=refusal)


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A function the model may call; ``parameters`` is a JSON-Schema object."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache: CacheControl | None = None
    """A prompt-cache breakpoint after this tool's definition (see :class:`CacheControl`)."""


class ToolChoiceFunction(msgspec.Struct, frozen=True):
    """Force a call to the named tool."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | ToolChoiceFunction


class ResponseFormat(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``text``, free ``json_object``, or ``json_schema`` structured output."""

    type: Literal["text", "json_object", "json_schema"] = "json_schema"
    name: str = "response"
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class ReasoningConfig(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Ask for visible reasoning: an ``effort`` level, a token budget, or both (each dialect maps it)."""

    effort: Literal["minimal", "low", "medium", "high"] | None = None
    budget_tokens: int | None = None
    include_thoughts: bool = True


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    model: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    reasoning: ReasoningConfig | None = None
    provider_options: dict[str, Any] = msgspec.field(default_factory=dict)
    """Provider-specific extras, merged into the wire body by the dialect that knows them
    (e.g. Ollama ``keep_alive``/``num_ctx``); documented per dialect."""


class FinishReason(enum.StrEnum):
    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    OTHER = "other"


class Usage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Token counts; zero where the provider says nothing.

    ``prompt_tokens`` includes ``cached_tokens`` (read from cache) and ``cache_write_tokens``
    (written to cache); ``completion_tokens`` includes ``reasoning_tokens``.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    """Of ``cache_write_tokens``, those written to a 1-hour cache (Anthropic bills them at 2x input,
    the 5-minute ones at 1.25x)."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )

    def calculate_cost(self, info: ModelInfo) -> Decimal | None:
        """The exact USD cost of this usage at ``info``'s prices, or ``None`` when a price is unknown.

        Uncached prompt tokens are billed at the input price, cache reads at the cached-input price
        and cache writes at the cache-write price (each falling back to the input price when the
        catalog lists none), 1-hour cache writes at the 1-hour write price (falling back to the
        cache-write price); completion tokens, which include reasoning tokens, at the output price.

        >>> info = ModelInfo(id="m", provider="p", input_price=Decimal("2.50"), output_price=Decimal("10"),
        ...                  cached_input_price=Decimal("1.25"))
        >>> Usage(prompt_tokens=1000, cached_tokens=400, completion_tokens=100).calculate_cost(info)
        Decimal('0.00300000')
        >>> Usage(prompt_tokens=1).calculate_cost(ModelInfo(id="m", provider="p")) is None
        True
        """
        key = info.id
        table = _PRICED[key] if key in _PRICED else None  # noqa: SIM401 (no `get` call per reply)
        if table is None or table[0] is not info:
            table = _price_table(info)
        t = table[1]
        if t is None:
            return None if table[2] else _decimal_cost(self, info)
        # integers over the prices' common exponent: the same Decimal (value and exponent) as summing
        # the Decimal products, in two Decimal operations instead of eleven (issue 19)
        # ``max(0, n)`` and ``min(a, b)`` as conditionals (same picks, no builtin calls per reply)
        uncached = self.prompt_tokens - self.cached_tokens - self.cache_write_tokens
        if not uncached > 0:
            uncached = 0
        long_writes = self.cache_write_1h_tokens
        if self.cache_write_tokens < long_writes:
            long_writes = self.cache_write_tokens
        scaled = (
            uncached * t[0]
            + self.cached_tokens * t[1]
            + (self.cache_write_tokens - long_writes) * t[2]
            + long_writes * t[3]
            + self.completion_tokens * t[4]
        )
        # never negative: a count or a price below zero (a hand-built Usage, a custom catalog) bills 0
        return Decimal(scaled).scaleb(t[5]) if scaled > 0 else _ZERO_USD


_ZERO_USD = Decimal(0).scaleb(-6)

PriceTable = tuple[int, int, int, int, int, int]
"""A model's prices for :meth:`Usage.calculate_cost` as integers over one exponent: input, cached
input, cache write, 1-hour cache write, output (each with its fallback applied), and the exponent to
shift their token-weighted sum by (their smallest exponent, less the 6 of "per 1M tokens")."""

WorstTable = tuple[int, int, int]
"""The dearest prompt price and the output price as integers over one exponent, and that exponent
(less 6): :func:`interlingua.core.budget.worst_case_cost`'s figures."""

# info.id -> (info, cost table, whether the price is unknown, worst-case table): a catalog entry's
# prices as integers, worked out once per entry (issue 19: the Decimal products cost ~12k
# instructions a reply). ``is`` confirms a hit (two entries of one id take turns, each correct).
# ``None`` tables: the price is unknown, or not a finite number (then the Decimal arithmetic itself
# decides, as before).
_PRICED: dict[str, tuple[ModelInfo, PriceTable | None, bool, WorstTable | None]] = {}


def _scaled(prices: tuple[Decimal, ...], shift: int) -> Any:
    """``prices`` as integers times ``10**-e`` for their smallest exponent ``e``, and ``e - shift``;
    ``None`` unless every price is finite."""
    if not all(p.is_finite() for p in prices):
        return None
    e = min(int(p.as_tuple().exponent) for p in prices)
    return (*(int(p.scaleb(-e)) for p in prices), e - shift)  # a PriceTable or a WorstTable, by the arity


def _price_table(info: ModelInfo) -> tuple[ModelInfo, PriceTable | None, bool, WorstTable | None]:
    from ._memo import remember

    if info.input_price is None or info.output_price is None:
        entry: tuple[ModelInfo, PriceTable | None, bool, WorstTable | None] = (info, None, True, None)
        return remember(_PRICED, info.id, entry)
    inp, out = info.input_price, info.output_price
    cached = info.cached_input_price if info.cached_input_price is not None else inp
    write = info.cache_write_price if info.cache_write_price is not None else inp
    write_1h = info.cache_write_1h_price if info.cache_write_1h_price is not None else write
    table: PriceTable | None = _scaled((inp, cached, write, write_1h, out), 6)
    worst: WorstTable | None = None
    if table is not None:
        # the dearest of the prompt prices (the first of equal ones, as ``max`` picks)
        prompt_price = inp
        for p in (info.cache_write_price, info.cache_write_1h_price, info.cached_input_price):  # hook: cache (1h writes)
            if p is not None and p > prompt_price:
                prompt_price = p
        worst = _scaled((prompt_price, out), 6)
    return remember(_PRICED, info.id, (info, table, False, worst))


def priced(info: ModelInfo) -> tuple[ModelInfo, PriceTable | None, bool, WorstTable | None]:
    """``info``'s entry in the price memo (made on a miss): see :data:`_PRICED`."""
    table = _PRICED.get(info.id)
    return table if table is not None and table[0] is info else _price_table(info)


def _decimal_cost(usage: Usage, info: ModelInfo) -> Decimal | None:
    """:meth:`Usage.calculate_cost` in Decimal arithmetic, for prices that are not finite numbers."""
    assert info.input_price is not None and info.output_price is not None
    cached = info.cached_input_price if info.cached_input_price is not None else info.input_price
    write = info.cache_write_price if info.cache_write_price is not None else info.input_price
    write_1h = info.cache_write_1h_price if info.cache_write_1h_price is not None else write
    uncached = max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens)
    long_writes = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
    micro = (
        uncached * info.input_price
        + usage.cached_tokens * cached
        + (usage.cache_write_tokens - long_writes) * write
        + long_writes * write_1h
        + usage.completion_tokens * info.output_price
    )
    return Decimal(micro if micro > 0 else 0).scaleb(-6)


class ChatResponse(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    model: str
    created: int
    message: Message
    finish_reason: FinishReason
    usage: Usage
    provider: str
    raw_finish_reason: str | None = None
    provider_metadata: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.message.tool_calls

    @property
    def reasoning(self) -> str:
        return self.message.reasoning


class ToolCallDelta(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A fragment of tool call number ``index``; ``id`` and ``name`` come once, ``arguments`` in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    signature: str | None = None


class ChatChunk(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One streamed increment. ``usage``, when present, is cumulative for the whole response."""

    text: str = ""
    reasoning: str = ""
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    created: int | None = None
    refusal: str | None = None
    provider_metadata: dict[str, Any] | None = None


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the catalog knows of one model. Prices are USD per 1M tokens; ``None`` means unknown."""

    id: str
    provider: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    cached_input_price: Decimal | None = None
    cache_write_price: Decimal | None = None
    """The 5-minute prompt-cache write (Anthropic: 1.25x input)."""
    cache_write_1h_price: Decimal | None = None
    """The 1-hour prompt-cache write (Anthropic: 2x input); ``cache_write_price`` when unknown."""
    supports_tools: bool = False
    supports_vision: bool = False
    supports_structured_output: bool = False
    supports_reasoning: bool = False
    supports_streaming: bool = True
    aliases: tuple[str, ...] = ()
    prices_as_of: str | None = None

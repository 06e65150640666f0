"""From the flexible call forms to one typed, validated request — pure.

:func:`prepare` is the first step of every call (``chat``, ``stream``, ``stream_response``,
``count_tokens``, and each fallback): it builds the :class:`ChatRequest`, resolves the model string
to its provider row and dialect, picks the provider's config and catalog entry, and refuses what
the provider could not take. Everything it needs is an argument (the configs, the catalog), so it
reads no global state the caller did not choose.

>>> p = prepare("claude-haiku-4-5", "hi", providers={}).unwrap()
>>> p.ref, p.spec.name, p.dialect.name, p.request.messages[0].content
(ModelRef(provider='anthropic', model='claude-haiku-4-5'), 'anthropic', 'anthropic', 'hi')
>>> p.request.max_tokens == p.info.max_output_tokens   # Anthropic requires one; the catalog's limit
True
>>> prepare("gpt-4o", None).failure().message
'no messages given'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import msgspec
from returns.result import Failure, Result, Success

from ._memo import remember
from .catalog import Catalog, default_catalog
from .dialect import Dialect, ProviderConfig
from .errors import ErrorKind, LlmError
from .models import ModelRef, parse_model
from .registry import _LISTENERS, ProviderSpec, get_dialect, get_spec
from .schema import ChatRequest, Message, ModelInfo, ReasoningConfig, ResponseFormat, ToolChoice, ToolSpec
from .validate import request_problem

__all__ = ["ChatOptions", "Messages", "Prepared", "build_request", "fill_max_tokens", "prepare", "resolve"]

Messages = str | Message | Sequence[Message] | ChatRequest
"""A prompt string, one :class:`Message`, a list of them, or a whole :class:`ChatRequest`."""


class ChatOptions(TypedDict, total=False):
    """The keyword options of ``chat``/``stream``/``stream_response``: the :class:`ChatRequest`
    fields besides ``model`` and ``messages`` (mypy and editors see them; the run-time check that
    refuses an unknown or ill-typed option as ``invalid_request`` stays, for untyped callers).
    A test keeps the two lists equal."""

    tools: Sequence[ToolSpec]
    tool_choice: ToolChoice | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: Sequence[str]
    seed: int | None
    response_format: ResponseFormat | None
    user: str | None
    reasoning: ReasoningConfig | None
    provider_options: Mapping[str, Any]

_NO_CONFIG = ProviderConfig()


class Prepared(msgspec.Struct, frozen=True):
    """A request resolved against the config: which provider row, dialect, settings and catalog entry.

    ``dialect`` is typed with its stream state left open (``Dialect[Any]``): each dialect folds its own
    state type, which the call path never looks into.
    """

    ref: ModelRef
    dialect: Dialect[Any]
    spec: ProviderSpec
    request: ChatRequest
    config: ProviderConfig
    info: ModelInfo | None = None


# Model string -> (ref, dialect, row): pure, and the same few strings recur on every call, so they
# are resolved once. Bounded: cleared when full, so a process that once saw many distinct strings
# (a sweep over models) memoises its usual ones again rather than resolving them afresh for ever.
# Registering a row at run time clears it.
_RESOLVED: dict[str, Success[tuple[ModelRef, Dialect[Any], ProviderSpec]]] = {}
_RESOLVED_MAX = 1024
_LISTENERS.append(_RESOLVED.clear)


def resolve(model: str) -> Result[tuple[ModelRef, Dialect[Any], ProviderSpec], LlmError]:
    """The provider, dialect and row a model string names."""
    hit = _RESOLVED.get(model)
    if hit is not None:
        return hit
    parsed = parse_model(model)
    if type(parsed) is Failure:
        return parsed
    ref = parsed.unwrap()
    dialect = get_dialect(ref.provider)
    if type(dialect) is Failure:
        return dialect
    spec = get_spec(ref.provider)
    if spec is None:  # pragma: no cover - get_dialect found a row
        return Failure(LlmError(kind=ErrorKind.INVALID_MODEL, message=f"unknown provider {ref.provider!r}"))
    return remember(_RESOLVED, model, Success((ref, dialect.unwrap(), spec)), bound=_RESOLVED_MAX)


def build_request(
    model: str | ChatRequest, messages: Messages | None, options: Mapping[str, object] | ChatOptions | None = None
) -> ChatRequest | LlmError:
    """A :class:`ChatRequest` from the flexible call forms; unknown or ill-typed options are an error."""
    if isinstance(model, ChatRequest):
        req = model
    elif isinstance(messages, ChatRequest):
        req = msgspec.structs.replace(messages, model=model)
    elif messages is None:
        return LlmError(kind=ErrorKind.INVALID_REQUEST, message="no messages given")
    else:
        if isinstance(messages, str):
            msgs: tuple[Message, ...] = (Message.user(messages),)
        elif isinstance(messages, Message):
            msgs = (messages,)
        else:
            msgs = tuple(messages)
        req = ChatRequest(model=model, messages=msgs)
    if not options:
        return req
    try:
        merged = msgspec.to_builtins(req)
        merged.update(msgspec.to_builtins(options))
        return msgspec.convert(merged, ChatRequest)
    except (msgspec.ValidationError, TypeError) as e:
        return LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"invalid request option: {e}")


def fill_max_tokens(req: ChatRequest, spec: ProviderSpec, info: ModelInfo | None) -> ChatRequest:
    """For a provider whose API refuses a request without an output limit (Anthropic), the catalog
    entry's limit (what the budget reserves anyway). Left unset when the entry gives none, or when
    a thinking budget would not fit under it: the dialect's own default (budget + default) applies.

    >>> from .registry import SPECS
    >>> info = ModelInfo(id="m", provider="anthropic", max_output_tokens=8)
    >>> fill_max_tokens(ChatRequest(model="m", messages=()), SPECS["anthropic"], info).max_tokens
    8
    """
    if not spec.requires_max_tokens or req.max_tokens is not None or info is None:
        return req
    limit = info.max_output_tokens
    budget = req.reasoning.budget_tokens if req.reasoning is not None else None
    if limit is None or (budget is not None and limit <= budget):
        return req
    return msgspec.structs.replace(req, max_tokens=limit)


def prepare(
    model: str | ChatRequest,
    messages: Messages | None = None,
    options: Mapping[str, object] | ChatOptions | None = None,
    *,
    providers: Mapping[str, ProviderConfig] | None = None,
    catalog: Catalog | None = None,
) -> Result[Prepared, LlmError]:
    """Build, resolve and validate one call: a :class:`Prepared`, or the first reason it cannot go.

    ``providers`` maps provider names to their configs (missing: an empty config); ``catalog``
    (default: the bundled one) gives the model's limits and prices.
    """
    p = prepare_call(model, messages, options, providers=providers, catalog=catalog)
    return Failure(p) if isinstance(p, LlmError) else Success(p)


def prepare_call(
    model: str | ChatRequest,
    messages: Messages | None = None,
    options: Mapping[str, object] | ChatOptions | None = None,
    *,
    providers: Mapping[str, ProviderConfig] | None = None,
    catalog: Catalog | None = None,
) -> Prepared | LlmError:
    """:func:`prepare` without the ``Result``, for the client's per-call path (issue 19)."""
    req = build_request(model, messages, options)
    if isinstance(req, LlmError):
        return req
    resolved = resolve(req.model)
    if type(resolved) is Failure:
        failed: LlmError = resolved.failure()
        return failed
    ref, dialect, spec = resolved.unwrap()
    info = (catalog if catalog is not None else default_catalog()).lookup(ref.provider, ref.model)
    if req.model != ref.model:
        req = msgspec.structs.replace(req, model=ref.model)
    cfg = (providers.get(ref.provider) if providers else None) or _NO_CONFIG
    rules = ref.provider
    if cfg.api == "responses":  # hook: responses — LlmConfig.with_provider(name, api="responses")
        routed = _responses_dialect(ref.provider)
        if routed is None:
            return LlmError(kind=ErrorKind.INVALID_REQUEST, provider=ref.provider,
                            message=f"{ref.provider} has no Responses API here (openai, azure and openai_compatible have)")
        dialect, rules = routed, "openai_responses"
    problem = request_problem(req, rules, info)
    if problem is not None:
        return problem
    if spec.requires_max_tokens:
        req = fill_max_tokens(req, spec, info)
    return Prepared(ref, dialect, spec, req, cfg, info)


def _responses_dialect(provider: str) -> Dialect[Any] | None:
    """``provider``'s Responses dialect (the module is imported only when a config asks for it)."""
    from .openai_responses import responses_dialect_for

    return responses_dialect_for(provider)

"""Client-side rate limiting: a pure token-bucket state machine fed ``now``.

Two sources decide when a request may go:

* the caller's own limits (:class:`~interlingua.core.budget.RateLimit`: requests and tokens per
  minute, per provider or per model) — one :class:`Bucket` each, refilled continuously;
* what the provider last said about the caller's quota — OpenAI's ``x-ratelimit-remaining-*`` /
  ``x-ratelimit-reset-*`` (resets as durations: ``"1s"``, ``"6m0s"``, ``"120ms"``) and Anthropic's
  ``anthropic-ratelimit-*-remaining`` / ``-reset`` (RFC 3339 times). When the provider says nothing
  is left until a reset, requests wait for the reset instead of collecting 429s.

:func:`acquire` is all-or-nothing: it either takes from every applicable bucket (:class:`Granted`)
or changes nothing and says how long to wait (:class:`Wait`), or that the request can never fit
(:class:`Never`). Waiting (``asyncio.sleep``) happens in :mod:`interlingua.effects.ratelimit`.

>>> rules = (RateLimit(provider="openai", requests_per_minute=2),)
>>> st, d = acquire(LimiterState(), rules, "openai", "gpt-4o", tokens=10, now=0.0)
>>> st, d = acquire(st, rules, "openai", "gpt-4o", tokens=10, now=0.0)
>>> acquire(st, rules, "openai", "gpt-4o", tokens=10, now=0.0)[1]
Wait(seconds=30.0)
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping

import msgspec

from ._memo import remember
from .budget import RateLimit
from .http import Headers

__all__ = [
    "LOW_QUOTA",
    "Bucket",
    "Decision",
    "Granted",
    "LimiterState",
    "Never",
    "Observed",
    "QuotaWindow",
    "Wait",
    "Window",
    "acquire",
    "as_window",
    "observe",
    "parse_duration",
    "parse_rate_headers",
    "read_quota",
    "record",
    "roomy",
]

LOW_QUOTA = 0.2
"""A provider-reported window with at most this fraction of its limit left is *nearly used up*: only
then can a report make a caller wait soon, so only then is it shared across workers, and re-read on
every reply (:func:`roomy`)."""

MAX_RESET_SECONDS = 86_400.0
"""A reset further away than a day is not believed: both providers' windows are a minute to a day,
and a reset of ``inf``, ``100000h`` or a date in the year 9999 would otherwise stall every later
call to that model for ever."""


class Bucket(msgspec.Struct, frozen=True):
    """``level`` units available at time ``at``; refills at ``per_second`` up to ``capacity``."""

    capacity: float
    per_second: float
    level: float
    at: float

    @classmethod
    def per_minute(cls, capacity: float, now: float) -> Bucket:
        return cls(capacity, capacity / 60.0, capacity, now)

    def refilled(self, now: float) -> Bucket:
        if now <= self.at:
            return self
        return Bucket(self.capacity, self.per_second, min(self.capacity, self.level + (now - self.at) * self.per_second), now)

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available (0 when it is now); ``inf`` if it never fits."""
        if amount > self.capacity:
            return float("inf")
        level = self.refilled(now).level
        return 0.0 if level >= amount else (amount - level) / self.per_second

    def take(self, amount: float, now: float) -> Bucket:
        b = self.refilled(now)
        return Bucket(b.capacity, b.per_second, b.level - amount, max(now, b.at))


class Window(msgspec.Struct, frozen=True):
    """The provider's word at ``observed_at``: ``remaining`` units are left, and the quota is *fully*
    replenished at ``reset_at`` (unix seconds) — both OpenAI and Anthropic document the reset that way."""

    remaining: float
    reset_at: float
    limit: float | None = None
    observed_at: float | None = None

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` units are available.

        Both providers refill continuously (a token bucket), so with ``limit`` and ``observed_at``
        known the quota refills linearly from ``remaining`` to ``limit`` by ``reset_at``; waiting for
        the whole reset would stall a client for a minute after a single 429. Without them, the
        only safe answer is the reset itself.

        >>> Window(remaining=0, reset_at=160.0, limit=50, observed_at=100.0).wait_for(1, now=100.0)
        1.2
        >>> Window(remaining=0, reset_at=160.0, limit=50, observed_at=100.0).wait_for(1, now=101.2)
        0.0
        >>> Window(remaining=0, reset_at=160.0).wait_for(1, now=100.0)
        60.0
        >>> Window(remaining=40_000, reset_at=160.0, limit=40_000, observed_at=100.0).wait_for(64_000, now=100.0)
        0.0
        """
        if now >= self.reset_at:
            return 0.0
        if self.limit is None or self.observed_at is None:
            return 0.0 if self.remaining >= amount else self.reset_at - now
        # a request larger than the whole quota can only wait for a full one, never longer
        amount = min(amount, self.limit)
        span = self.reset_at - self.observed_at
        rate = (self.limit - self.remaining) / span if span > 0 else 0.0
        available = self.remaining + rate * max(0.0, now - self.observed_at)
        if available >= amount - 1e-9:
            return 0.0
        return min(self.reset_at - now, (amount - available) / rate) if rate > 0 else self.reset_at - now


class Observed(msgspec.Struct, frozen=True):
    requests: Window | None = None
    tokens: Window | None = None
    ignored: tuple[str, ...] = ()
    """Reset headers whose value was refused (unreadable, not finite, or further away than
    :data:`MAX_RESET_SECONDS`):
    core only reports them; the effect layer logs them (once, at debug)."""


class Granted(msgspec.Struct, frozen=True):
    pass


class Wait(msgspec.Struct, frozen=True):
    seconds: float


class Never(msgspec.Struct, frozen=True):
    reason: str


Decision = Granted | Wait | Never
_GRANTED = Granted()

Key = tuple[str, str | None]


class LimiterState(msgspec.Struct, frozen=True):
    """Buckets keyed by (provider, model-or-None, "requests"|"tokens"); provider windows by (provider, model)."""

    buckets: dict[tuple[str, str | None, str], Bucket] = msgspec.field(default_factory=dict)
    observed: dict[Key, Observed] = msgspec.field(default_factory=dict)


def _rules_for(rules: tuple[RateLimit, ...], provider: str, model: str) -> list[RateLimit]:
    return [r for r in rules if r.provider == provider and (r.model is None or r.model == model)]


def acquire(
    state: LimiterState, rules: tuple[RateLimit, ...], provider: str, model: str, *, tokens: int, now: float
) -> tuple[LimiterState, Decision]:
    """Take one request and ``tokens`` tokens from every applicable limit, or say how long to wait."""
    if not rules and not state.observed:
        return state, _GRANTED  # no limit of the caller's and none reported yet: the common case
    needs: list[tuple[tuple[str, str | None, str], float, float]] = []  # key, capacity, amount
    for r in _rules_for(rules, provider, model) if rules else ():  # none of the caller's: no list to build
        if r.requests_per_minute is not None:
            needs.append(((provider, r.model, "requests"), float(r.requests_per_minute), 1.0))
        if r.tokens_per_minute is not None:
            needs.append(((provider, r.model, "tokens"), float(r.tokens_per_minute), float(tokens)))
    wait = 0.0
    buckets = dict(state.buckets)
    for key, capacity, amount in needs:
        b = buckets.get(key)
        if b is None or b.capacity != capacity:
            b = buckets[key] = Bucket.per_minute(capacity, now)
        w = b.wait_for(amount, now)
        if w == float("inf"):
            return state, Never(f"a request of {int(amount)} {key[2]} exceeds the {int(capacity)} {key[2]}-per-minute limit "
                                f"for {provider}{':' + key[1] if key[1] else ''}")
        wait = max(wait, w)
    observed = dict(state.observed)
    scopes: tuple[tuple[str, str | None], ...] = ((provider, model), (provider, None))
    for scope in scopes:
        o = observed.get(scope)
        if o is None:
            continue
        for win, amount in ((o.requests, 1.0), (o.tokens, float(tokens))):
            if win is not None:
                wait = max(wait, win.wait_for(amount, now))
    if wait > 0:
        return state, Wait(wait)
    for key, _, amount in needs:
        buckets[key] = buckets[key].take(amount, now)
    for scope in scopes:
        o = observed.get(scope)
        if o is not None:
            observed[scope] = Observed(_spend(o.requests, 1.0, now), _spend(o.tokens, float(tokens), now))
    return LimiterState(buckets, observed), Granted()


def _spend(win: Window | None, amount: float, now: float) -> Window | None:
    # Past its reset the provider's figure says nothing any more; until then count our own sends
    # against it, so that many concurrent calls after one response do not all trust the same number.
    if win is None or now >= win.reset_at:
        return None
    return Window(win.remaining - amount, win.reset_at, win.limit, win.observed_at)


def observe(state: LimiterState, provider: str, model: str, headers: Mapping[str, str], now: float) -> LimiterState:
    """Fold a response's rate-limit headers into the state (unchanged when there are none)."""
    return record(state, provider, model, parse_rate_headers(headers, now))


def record(state: LimiterState, provider: str, model: str, seen: Observed | None) -> LimiterState:
    """Fold windows already parsed by :func:`parse_rate_headers` (unchanged when none is usable)."""
    if seen is None or (seen.requests is None and seen.tokens is None):
        return state
    return LimiterState(state.buckets, {**state.observed, (provider, model): seen})


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """OpenAI's reset durations, in seconds.

    >>> parse_duration("1s"), parse_duration("6m0s"), parse_duration("120ms"), parse_duration("1h2m3.5s")
    (1.0, 360.0, 0.12, 3723.5)
    >>> parse_duration("soon") is None
    True
    """
    text = text.strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and pos > 0 else None


def _rfc3339(text: str) -> float | None:
    try:
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return when.timestamp() if when.tzinfo is not None else None
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-14:00 is past datetime's range in UTC
        return None


_INF = float("inf")


def _limit(text: str) -> float | None:
    try:
        cap = float(text)
    except ValueError:
        return None
    return cap if 0 <= cap < _INF else None


# (remaining, limit, reset, reset is an absolute time?) header names, lower-case, in order of preference
_WindowNames = tuple[str, str, str, bool]
_REQUEST_WINDOWS: tuple[_WindowNames, ...] = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-limit-requests", "x-ratelimit-reset-requests", False),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-reset", True),
)
_TOKEN_WINDOWS: tuple[_WindowNames, ...] = (
    ("x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens", "x-ratelimit-reset-tokens", False),
    ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-reset", True),
    (
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-reset",
        True,
    ),
)

# Memos of what the reply headers repeat (issue 19; a dict look-up in place costs less than an
# ``lru_cache`` call): a provider repeats a handful of reset durations ("120ms", "2ms"), every reply
# within a second the same reset time, and a window's limit the same figure on every reply (where
# ``float`` of the string costs more than the look-up). Bounded: cleared when full (``_memo.remember``).
_DURATIONS: dict[str, float | None] = {}
_TIMES: dict[str, float | None] = {}
_LIMITS: dict[str, float | None] = {}
_MEMO_MAX = 256

_NAMES = frozenset(name for names in _REQUEST_WINDOWS + _TOKEN_WINDOWS for name in names[:3])
_WINDOWS = (_REQUEST_WINDOWS, _TOKEN_WINDOWS)

_QUOTA_NAME: dict[str, str | None] = {}
"""Header name as received → its lower-case form if it is a quota header, else ``None``: a provider
repeats the same dozen names on every response, so each is lower-cased and classified once (issue
19). Bounded: cleared when full, so names a server invents cannot grow it."""
_QUOTA_NAME_MAX = 1024

QuotaWindow = list[float | None]
"""``[remaining, reset_at, limit, observed_at]``: the fields of :class:`Window` as plain numbers
(``limit`` may be ``None``), for a limiter that spends from them in place."""


def _quota_name(k: str) -> str | None:
    low = k.lower()
    return remember(_QUOTA_NAME, k, low if low in _NAMES else None, bound=_QUOTA_NAME_MAX)


def read_quota(headers: Mapping[str, str], now: float) -> tuple[list[QuotaWindow | None], tuple[str, ...]] | None:
    """:func:`parse_rate_headers` as plain numbers: ``([requests, tokens], ignored)``, each window a
    fresh :data:`QuotaWindow` or ``None`` (``None`` overall when the response reports no quota).

    One frame for the whole read (issue 19: it runs on every reply): per kind, the first window the
    headers report in full and believably, a name's last value counting as a lower-cased index
    keeps it. A reset refused as implausible (unreadable, not finite, or further away than
    :data:`MAX_RESET_SECONDS`) is named in ``ignored`` and the next window of that kind is tried.

    >>> read_quota({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}, now=100.0)
    ([[0.0, 101.0, None, 100.0], None], ())
    >>> read_quota({"content-type": "application/json"}, now=100.0) is None
    True
    """
    # What a name's values are, as a list (the last one counts, as a lower-cased index keeps it):
    # the transport's own case-insensitive multi-mapping, looked up in place, only for the names a
    # window needs (issue 19: most reply headers are not quota headers); any other mapping gets one
    # pass over its names as given.
    pairs: Iterable[tuple[str, str]]
    if type(headers) is Headers:
        received = headers._received
        pairs = headers.items_raw() if received is None else ()
    else:
        received, pairs = None, headers.items()
    look: Callable[[str, None], list[str] | None]
    if received is not None:
        look = received.getall
    else:
        known = _QUOTA_NAME
        h: dict[str, list[str]] = {}
        for k, v in pairs:
            name = known[k] if k in known else _quota_name(k)
            if name is not None:
                h[name] = [v]
        if not h:
            return None
        look = h.get
    ignored: list[str] | None = None
    found: list[QuotaWindow | None] = [None, None]
    # subscripts and inline checks, no ``isfinite``/``_number`` frames; the checks are theirs
    for kind in (0, 1):
        for remaining, limit, reset, absolute in _WINDOWS[kind]:
            values = look(remaining, None)
            if values is None:
                continue
            raw = look(reset, None)
            if raw is None:
                continue
            try:
                left = float(values[-1])
            except ValueError:
                continue
            if not (0 <= left < _INF):  # negative, NaN or infinite → unreadable
                continue
            text = raw[-1]
            if absolute:
                at = _TIMES[text] if text in _TIMES else remember(_TIMES, text, _rfc3339(text), _MEMO_MAX)
            else:
                d = _DURATIONS[text] if text in _DURATIONS else remember(_DURATIONS, text, parse_duration(text), _MEMO_MAX)
                at = None if d is None else now + d
            if at is None or not (-_INF < at < _INF) or at - now > MAX_RESET_SECONDS:
                if ignored is None:
                    ignored = []
                ignored.append(reset)
                continue
            values = look(limit, None)
            if values is None:
                cap = None
            else:
                text = values[-1]
                cap = _LIMITS[text] if text in _LIMITS else remember(_LIMITS, text, _limit(text), _MEMO_MAX)
            found[kind] = [left, at, cap, now]
            break
    if ignored is not None:
        return found, tuple(ignored)
    return None if found[0] is None and found[1] is None else (found, ())


def roomy(rec: list[QuotaWindow | None], now: float) -> bool:
    """Whether every window of a :func:`read_quota` record still in force (before its reset; one past
    it says nothing any more) has more than :data:`LOW_QUOTA` of a known limit left: a report no
    caller can be made to wait on soon.

    >>> roomy([[9000.0, 101.0, 10000.0, 100.0], None], now=100.0)
    True
    >>> roomy([[9000.0, 101.0, 10000.0, 100.0], [100.0, 160.0, 30000.0, 100.0]], now=100.0)
    False
    >>> roomy([[9000.0, 101.0, None, 100.0], None], now=100.0)  # no limit: no fraction to judge by
    False
    >>> roomy([[0.0, 101.0, 10000.0, 100.0], None], now=101.0)  # past its reset
    True
    """
    for w in rec:
        if w is not None and now < w[1]:  # type: ignore[operator]
            limit = w[2]
            if limit is None or not w[0] > LOW_QUOTA * limit:  # type: ignore[operator]
                return False
    return True


def as_window(w: QuotaWindow | None) -> Window | None:
    """A :data:`QuotaWindow` (as :func:`read_quota` gives it and a limiter keeps it) as a :class:`Window`."""
    if w is None:
        return None
    rem, reset, cap, at = w
    assert rem is not None and reset is not None
    return Window(rem, reset, cap, at)


def parse_rate_headers(headers: Mapping[str, str], now: float) -> Observed | None:
    """The quota a response reports, as :class:`Observed` windows (``None`` when it reports none).

    >>> parse_rate_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s",
    ...                     "x-ratelimit-limit-requests": "500"}, now=100.0)
    Observed(requests=Window(remaining=0.0, reset_at=101.0, limit=500.0, observed_at=100.0), tokens=None, ignored=())
    >>> parse_rate_headers({"anthropic-ratelimit-tokens-remaining": "5",
    ...                     "anthropic-ratelimit-tokens-reset": "1970-01-01T00:02:00Z"}, now=0.0)
    Observed(requests=None, tokens=Window(remaining=5.0, reset_at=120.0, limit=None, observed_at=0.0), ignored=())
    """
    quota = read_quota(headers, now)
    if quota is None:
        return None
    (requests, tokens), ignored = quota
    return Observed(as_window(requests), as_window(tokens), ignored)

"""Error values: status mapping, Retry-After parsing, predicates, and secrets kept out."""

from __future__ import annotations

import msgspec
import pytest

from interlingua.core import ErrorKind, LlmError, Secret, parse_retry_after, redact
from interlingua.core.errors import kind_for_status


@pytest.mark.parametrize(
    ("headers", "received_at", "expected"),
    [
        ({"retry-after": "3"}, None, 3.0),
        ({"Retry-After": "0.5"}, None, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, None, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT", "date": "Wed, 21 Oct 2015 07:28:00 GMT"}, None, 10.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 1445412485.0, 5.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, None, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 1445412500.0, 0.0),
        ({"retry-after": "soon"}, None, None),
        ({"retry-after": "-4"}, None, None),
        ({"retry-after": "nan"}, None, None),
        ({}, None, None),
    ],
)
def test_retry_after(headers: dict[str, str], received_at: float | None, expected: float | None) -> None:
    """Seconds, milliseconds and HTTP-dates all become seconds; junk becomes None."""
    from interlingua.core import Headers

    assert parse_retry_after(Headers(headers), received_at) == expected


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, ErrorKind.INVALID_REQUEST, False),
        (401, ErrorKind.AUTHENTICATION, False),
        (403, ErrorKind.PERMISSION, False),
        (404, ErrorKind.NOT_FOUND, False),
        (408, ErrorKind.TIMEOUT, True),
        (409, ErrorKind.API, True),
        (413, ErrorKind.INVALID_REQUEST, False),
        (429, ErrorKind.RATE_LIMIT, True),
        (500, ErrorKind.PROVIDER, True),
        (502, ErrorKind.PROVIDER, True),
        (503, ErrorKind.OVERLOADED, True),
        (504, ErrorKind.TIMEOUT, True),
        (529, ErrorKind.OVERLOADED, True),
        (418, ErrorKind.INVALID_REQUEST, False),
        (599, ErrorKind.PROVIDER, True),
    ],
)
def test_status_kinds(status: int, kind: ErrorKind, retryable: bool) -> None:
    """A bare status maps to a kind, and that kind's retryability is the documented one."""
    assert kind_for_status(status) is kind
    assert LlmError(kind=kind, message="x", status=status).is_retryable() is retryable


def test_provider_hint_overrides_but_never_for_caller_errors() -> None:
    """``retryable`` (x-should-retry) overrides the guess, except for errors no retry can fix."""
    assert not LlmError(kind=ErrorKind.RATE_LIMIT, message="quota", retryable=False).is_retryable()
    assert LlmError(kind=ErrorKind.API, message="x", status=400, retryable=True).is_retryable()
    assert not LlmError(kind=ErrorKind.AUTHENTICATION, message="x", retryable=True).is_retryable()


def test_predicates_and_str() -> None:
    """The seed predicates and a readable one-line str."""
    e = LlmError(kind=ErrorKind.AUTHENTICATION, message="bad key", provider="openai", status=401)
    assert e.is_authentication() and not e.is_rate_limit() and not e.is_retryable()
    assert str(e) == "openai authentication (HTTP 401): bad key"


def test_errors_round_trip_as_json() -> None:
    """An error is plain data: it survives JSON."""
    e = LlmError(kind=ErrorKind.RATE_LIMIT, message="m", status=429, retry_after=1.5, headers={"x-request-id": "r"})
    assert msgspec.json.decode(msgspec.json.encode(e), type=LlmError) == e


def test_secret_never_prints() -> None:
    """A Secret's value shows up in no repr/str/format and cannot be pickled."""
    import pickle

    s = Secret("sk-live-abcdef0123456789")
    for rendered in (repr(s), str(s), f"{s}", f"{s!r}", repr([s]), repr({"k": s})):
        assert "abcdef" not in rendered
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_redact_removes_key_and_masked_echo() -> None:
    """A provider's masked echo of a wrong key (OpenAI style) is removed too."""
    key = "sk-proj-abcdefghijklmnop1234"
    msg = f"Incorrect API key provided: sk-pro***********1234. Full: {key}"
    out = redact(msg, Secret(key))
    assert key not in out and "1234" not in out and "sk-pro" not in out

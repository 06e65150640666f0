"""AWS Signature Version 4, as a pure function: request and clock in, headers out.

Reference: "Create a signed AWS API request" (docs.aws.amazon.com/IAM/latest/UserGuide/
create-signed-request.html). botocore's ``SigV4Auth`` is the test oracle: for the same request and
timestamp the ``Authorization`` header is identical byte for byte (tests/test_sigv4.py).

The steps, as AWS writes them::

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQuery \\n CanonicalHeaders \\n
                       SignedHeaders \\n HexSha256(Body)
    StringToSign     = "AWS4-HMAC-SHA256" \\n AmzDate \\n Scope \\n HexSha256(CanonicalRequest)
    SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, Date), Region), Service), "aws4_request")

Non-S3 services ("each path segment must be URI-encoded twice"): the URL's path is already
percent-encoded once (a Bedrock model id ``…-v1:0`` travels as ``…-v1%3A0``), and the canonical URI
encodes it again (``…-v1%253A0``), after removing ``.``/``..`` segments and empty segments. S3 uses
the path as sent and also sends ``x-amz-content-sha256``.

>>> from .secret import Secret
>>> creds = Credentials("AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
>>> signed = sign("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
...               {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, b"",
...               creds, "us-east-1", "iam", 1440938160.0)
>>> signed[0]
('X-Amz-Date', '20150830T123600Z')
>>> signed[-1][1]  # doctest: +NORMALIZE_WHITESPACE
'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request,
 SignedHeaders=content-type;host;x-amz-date,
 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7'
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlsplit

import msgspec

from .secret import Secret

__all__ = ["Credentials", "amz_date", "canonical_request", "sign"]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# Hop-by-hop and tracing headers that proxies rewrite: signing them would break the signature in
# transit. The same list botocore keeps (SIGNED_HEADERS_BLACKLIST).
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
# Services that sign the path as sent (no second encoding, no normalisation) and require the
# x-amz-content-sha256 header.
_S3_LIKE = frozenset({"s3", "s3-object-lambda", "s3express"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Credentials(msgspec.Struct, frozen=True):
    """An access key id with its secret and, for temporary credentials, the session token."""

    access_key_id: str
    secret_access_key: Secret
    session_token: Secret | None = None

    def __repr__(self) -> str:
        token = ", session_token=set" if self.session_token else ""
        return f"Credentials({self.access_key_id!r}, secret_access_key=Secret('********'){token})"


def amz_date(timestamp: float) -> str:
    """Unix seconds → the ``X-Amz-Date`` form (basic ISO 8601, UTC).

    >>> amz_date(0)
    '19700101T000000Z'
    """
    return datetime.datetime.fromtimestamp(int(timestamp), datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, plus AWS's rule that empty segments (``//``) collapse.
    out: list[str] = []
    for seg in path.split("/"):
        if not seg or seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and out else ""
    return lead + "/".join(out) + trail


def _canonical_uri(path: str, service: str) -> str:
    if service in _S3_LIKE:
        return path or "/"
    return quote(_remove_dot_segments(path) if path else "/", safe="/~")


def _canonical_query(query: str) -> str:
    # The URL's query is already encoded; pairs are sorted by (key, value) as sent.
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{k}={v}" for k, v in pairs)


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _grouped(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        lname = name.lower()
        if lname not in UNSIGNED_HEADERS:
            out.setdefault(lname, []).append(value)
    return out


def _pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items_raw = getattr(headers, "items_raw", None)
    if items_raw is not None:
        return list(items_raw())
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def canonical_request(
    method: str, url: str, headers: Mapping[str, str] | Iterable[tuple[str, str]], payload_hash: str, service: str
) -> tuple[str, str]:
    """The canonical request and its signed-header list, for ``headers`` exactly as they will be sent."""
    parts = urlsplit(url)
    grouped = _grouped(_pairs(headers))
    if "host" not in grouped:
        grouped["host"] = [_host(url)]
    names = sorted(grouped)
    # "Trimall": leading/trailing space removed, inner runs of spaces collapsed to one.
    canonical_headers = "".join(f"{n}:{','.join(' '.join(v.split()) for v in grouped[n])}\n" for n in names)
    signed = ";".join(names)
    lines = (
        method.upper(),
        _canonical_uri(parts.path, service),
        _canonical_query(parts.query),
        canonical_headers,
        signed,
        payload_hash,
    )
    return "\n".join(lines), signed


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    timestamp: float,
) -> tuple[tuple[str, str], ...]:
    """The headers that sign this request: ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a session
    token), ``X-Amz-Content-SHA256`` (S3 only) and ``Authorization`` — add them to ``headers`` and send.

    Any ``Authorization``/``X-Amz-*`` signing headers already in ``headers`` are ignored (a retry
    re-signs from scratch); every other header given is signed, so pass exactly what will be sent.
    """
    date = amz_date(timestamp)
    kept = [
        (k, v)
        for k, v in _pairs(headers)
        if k.lower() not in ("authorization", "x-amz-date", "x-amz-security-token")
        and not (service in _S3_LIKE and k.lower() == "x-amz-content-sha256")
    ]
    added: list[tuple[str, str]] = [("X-Amz-Date", date)]
    if credentials.session_token:
        added.append(("X-Amz-Security-Token", credentials.session_token.reveal()))
    preset = next((v for k, v in kept if k.lower() == "x-amz-content-sha256"), None)
    payload_hash = preset or (hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256)
    if service in _S3_LIKE:
        added.append(("X-Amz-Content-SHA256", payload_hash))
    creq, signed = canonical_request(method, url, kept + added, payload_hash, service)
    scope = f"{date[:8]}/{region}/{service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{date}\n{scope}\n{hashlib.sha256(creq.encode('utf-8')).hexdigest()}"
    key = _hmac(("AWS4" + credentials.secret_access_key.reveal()).encode("utf-8"), date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    auth = f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"
    return (*added, ("Authorization", auth))

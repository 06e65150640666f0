"""SigV4 signing: AWS's published example, and botocore's SigV4Auth as the byte-for-byte oracle."""

from __future__ import annotations

import datetime
from unittest import mock
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core.secret import Secret
from interlingua.core.sigv4 import Credentials, sign

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def _botocore(method, url, headers, body, key_id, secret, token, region, service, ts):
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    now = datetime.datetime.fromtimestamp(int(ts), datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        SigV4Auth(BotoCredentials(key_id, secret, token), service, region).add_auth(req)
    return {k.lower(): v for k, v in req.headers.items()}


def _ours(method, url, headers, body, key_id, secret, token, region, service, ts):
    creds = Credentials(key_id, Secret(secret), Secret(token) if token else None)
    return {k.lower(): v for k, v in sign(method, url, headers, body, creds, region, service, ts)}


def test_aws_documented_example() -> None:
    """The IAM ListUsers example from AWS's SigV4 guide signs to the documented signature."""
    out = _ours("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, b"",
                "AKIDEXAMPLE", SECRET, None, "us-east-1", "iam", 1440938160)
    assert out["authorization"].endswith("Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


def test_bedrock_model_path_is_encoded_twice() -> None:
    """A model id's %3A is signed as %253A, exactly as botocore signs Converse calls."""
    args = ("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v2%3A1/converse",
            {"Content-Type": "application/json"}, b"{}", "AKID", SECRET, "tok", "us-east-1", "bedrock", 1.7e9)
    theirs = _botocore(*args)
    assert _ours(*args) == {k: theirs[k] for k in ("x-amz-date", "x-amz-security-token", "authorization")}


def test_session_token_is_signed_and_sent() -> None:
    """Temporary credentials add X-Amz-Security-Token and sign it."""
    out = _ours("POST", "https://h.example/x", {}, b"", "AKID", SECRET, "the-token", "eu-west-1", "bedrock", 1.7e9)
    assert out["x-amz-security-token"] == "the-token"
    assert "x-amz-security-token" in out["authorization"].split("SignedHeaders=")[1]


def test_repr_hides_secrets() -> None:
    """Credentials never print the secret or the token."""
    c = Credentials("AKID", Secret("very-secret-value"), Secret("token-value"))
    assert "very-secret" not in repr(c) and "token-value" not in repr(c)


_SEGMENT_CHARS = st.sampled_from([*"abcXYZ019-_.~:@!$'()*+,;=é漢🙂 ", "%3A", "%2F", "%20"])
_segment = st.one_of(
    st.lists(_SEGMENT_CHARS, min_size=0, max_size=6).map("".join),
    st.sampled_from([".", "..", ""]),
    st.text(min_size=1, max_size=5).map(lambda s: quote(s, safe="")),
)
_path = st.lists(_segment, max_size=5).map(lambda segs: "/" + "/".join(segs))
_query = st.lists(
    st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=4
).map(lambda kv: "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in kv))
_header_name = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,12}\Z").filter(
    lambda n: n.lower() not in {"authorization", "x-amz-date", "x-amz-security-token", "date", "x-amz-content-sha256"}
)
_header_value = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
_headers = st.dictionaries(_header_name, _header_value, max_size=5).map(
    lambda d: {k: v for k, v in {n.lower(): (n, v) for n, v in d.items()}.values()}
)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "delete"]),
    scheme_host=st.sampled_from(["https://bedrock-runtime.us-east-1.amazonaws.com", "http://127.0.0.1:8123",
                                 "https://example.com:443", "http://[::1]:9000"]),
    path=_path,
    query=_query,
    headers=_headers,
    body=st.binary(max_size=64),
    token=st.one_of(st.none(), st.text(alphabet="abcXYZ0123+/=", min_size=1, max_size=30)),
    region=st.sampled_from(["us-east-1", "eu-central-1", "ap-southeast-2"]),
    service=st.sampled_from(["bedrock", "execute-api", "sts"]),
    ts=st.integers(min_value=946684800, max_value=4102444800),
)
def test_matches_botocore(method, scheme_host, path, query, headers, body, token, region, service, ts) -> None:
    """For any request, our Authorization (and date/token headers) equal botocore's byte for byte."""
    url = scheme_host + path + (f"?{query}" if query else "")
    args = (method, url, headers, body, "AKIDEXAMPLE", SECRET, token, region, service, ts)
    ours, theirs = _ours(*args), _botocore(*args)
    for name in ("authorization", "x-amz-date", "x-amz-security-token"):
        assert ours.get(name) == theirs.get(name), name

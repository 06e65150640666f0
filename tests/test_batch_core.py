"""Properties of the pure batch core: result lines decode to the right outcome by custom_id, whatever the
mix and however the file is split; decoders are total; encoded jobs carry exactly what chat would send."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import ChatRequest, ErrorKind, Message, ProviderConfig, Secret, get_dialect
from interlingua.core import batch as B

from .helpers import split_at
from .strategies import chat_request

CFG = ProviderConfig(api_key=Secret("sk-test-secret-123"))
OUTCOMES = ("succeeded", "errored", "expired", "canceled")
# (error type or rpc status, the kind the dialect gives it)
ERRORS = {
    "openai": [(400, ErrorKind.INVALID_REQUEST), (429, ErrorKind.RATE_LIMIT), (500, ErrorKind.PROVIDER)],
    "anthropic": [("invalid_request_error", ErrorKind.INVALID_REQUEST), ("rate_limit_error", ErrorKind.RATE_LIMIT),
                  ("overloaded_error", ErrorKind.OVERLOADED)],
    "gemini": [((3, "INVALID_ARGUMENT"), ErrorKind.INVALID_REQUEST), ((8, "RESOURCE_EXHAUSTED"), ErrorKind.RATE_LIMIT),
               ((13, "INTERNAL"), ErrorKind.PROVIDER)],
}


def _success_body(provider: str, text: str) -> dict[str, Any]:
    """A minimal answer in each provider's documented response shape."""
    if provider == "openai":
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    if provider == "anthropic":
        return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-latest",
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 2}}
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
            "modelVersion": "gemini-2.5-flash"}


def _line(provider: str, cid: str, outcome: str, text: str, err: Any) -> dict[str, Any]:
    if provider == "openai":
        if outcome == "succeeded":
            return {"id": "batch_req_1", "custom_id": cid, "error": None,
                    "response": {"status_code": 200, "request_id": "r", "body": _success_body(provider, text)}}
        if outcome == "errored":
            return {"id": "batch_req_1", "custom_id": cid, "error": None,
                    "response": {"status_code": err, "request_id": "r",
                                 "body": {"error": {"message": text, "type": "x", "param": None, "code": None}}}}
        code = "batch_expired" if outcome == "expired" else "batch_cancelled"
        return {"id": "batch_req_1", "custom_id": cid, "response": None, "error": {"code": code, "message": text}}
    if provider == "anthropic":
        if outcome == "succeeded":
            return {"custom_id": cid, "result": {"type": "succeeded", "message": _success_body(provider, text)}}
        if outcome == "errored":
            return {"custom_id": cid, "result": {"type": "errored",
                                                 "error": {"type": "error", "error": {"type": err, "message": text}}}}
        return {"custom_id": cid, "result": {"type": outcome}}
    # Gemini's responses file: {key, response | error}; it reports no line for requests never run
    if outcome == "succeeded":
        return {"key": cid, "response": _success_body(provider, text)}
    return {"key": cid, "error": {"code": err[0], "message": text, "status": err[1]}}


cids = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=16)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@st.composite
def result_file(draw: st.DrawFn, provider: str) -> tuple[bytes, dict[str, tuple[str, str, Any]]]:
    ids = draw(st.lists(cids, min_size=1, max_size=12, unique=True))
    kinds = OUTCOMES if provider != "gemini" else ("succeeded", "errored")
    expected: dict[str, tuple[str, str, Any]] = {}
    lines = []
    for cid in ids:
        outcome = draw(st.sampled_from(kinds))
        text = draw(texts)
        err, kind = draw(st.sampled_from(ERRORS[provider]))
        expected[cid] = (outcome, text, kind)
        lines.append(json.dumps(_line(provider, cid, outcome, text, err), ensure_ascii=draw(st.booleans())))
    crlf = draw(st.booleans())
    body = ("\r\n" if crlf else "\n").join(lines) + draw(st.sampled_from(["", "\n"]))
    return body.encode(), expected


def _check(outcomes: list[tuple[str, Any]], expected: dict[str, tuple[str, str, Any]]) -> None:
    assert [cid for cid, _ in outcomes] == list(expected)
    for cid, r in outcomes:
        outcome, text, kind = expected[cid]
        if outcome == "succeeded":
            assert isinstance(r, Success) and r.unwrap().text == text
        else:
            assert isinstance(r, Failure)
            err = r.failure()
            if outcome == "expired":
                assert err.code == B.BATCH_EXPIRED and err.kind is ErrorKind.TIMEOUT
            elif outcome == "canceled":
                assert err.code == B.BATCH_CANCELLED
            else:
                assert err.kind is kind and err.code not in (B.BATCH_EXPIRED, B.BATCH_CANCELLED)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["openai", "anthropic", "gemini"]).flatmap(
    lambda p: st.tuples(st.just(p), result_file(p), st.lists(st.integers(0, 4000), max_size=12))))
def test_any_mix_decodes_by_custom_id_whatever_the_split(case: Any) -> None:
    """Every succeeded/errored/expired/canceled line is that outcome for its custom_id, split anywhere."""
    provider, (body, expected), cuts = case
    _check(B.decode_results(provider, body), expected)
    st_ = B.results_start(provider)
    got: list[tuple[str, Any]] = []
    for piece in split_at(body, cuts):
        st_, out = B.results_feed(st_, piece)
        got.extend(out)
    got.extend(B.results_finish(st_))
    _check(got, expected)


def test_byte_at_a_time_is_linear() -> None:
    """A long line fed one byte at a time is held as pieces, joined once (no quadratic re-buffering)."""
    line = json.dumps(_line("openai", "big", "succeeded", "x" * 200_000, None)).encode() + b"\n"
    st_ = B.results_start("openai")
    out: list[Any] = []
    for i in range(len(line)):
        st_, o = B.results_feed(st_, line[i:i + 1])
        out.extend(o)
    assert [cid for cid, _ in out] == ["big"] and out[0][1].unwrap().text == "x" * 200_000


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(B.BATCH_PROVIDERS), st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=5))
def test_decoders_are_total(provider: str, data: bytes, cuts: list[int]) -> None:
    """Arbitrary bytes never raise: a job decode is a Result, a bad result line a decode Failure."""
    assert isinstance(B.decode_job(provider, data), Success | Failure)
    assert isinstance(B.decode_job_list(provider, data), Success | Failure)
    assert isinstance(B.decode_job_page(provider, data), Success | Failure)
    for _, r in B.decode_results(provider, data):
        assert isinstance(r, Success | Failure)
    st_ = B.results_start(provider)
    for piece in split_at(data, cuts):
        st_, _ = B.results_feed(st_, piece)
    B.results_finish(st_)


def test_hostile_nesting_is_a_failure() -> None:
    """A deeply nested line is a decode failure, not a RecursionError."""
    out = B.decode_results("openai", b"[" * 100_000 + b"\n")
    assert out and out[0][1].failure().kind is ErrorKind.DECODE


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(chat_request(), min_size=1, max_size=4))
def test_openai_lines_carry_the_chat_bodies(reqs: list[ChatRequest]) -> None:
    """Each JSONL line of the upload is {custom_id, POST, /v1/chat/completions, the body chat sends}."""
    d = get_dialect("openai").unwrap()
    named = [(f"id-{i}", r) for i, r in enumerate(reqs)]
    encoded = B.encode_upload("openai", named, CFG, boundary="bnd-0123456789")
    if isinstance(encoded, Failure):  # a request chat itself would refuse
        assert any(isinstance(d.encode_request(r, CFG), Failure) for r in reqs)
        return
    up = encoded.unwrap()
    assert up is not None and up.url == "https://api.openai.com/v1/files"
    assert up.headers["content-type"] == "multipart/form-data; boundary=bnd-0123456789"
    data = up.body.split(b"\r\n\r\n", 2)[2].rsplit(b"\r\n--bnd-0123456789--", 1)[0]
    lines = [json.loads(x) for x in data.splitlines()]
    for (cid, r), line in zip(named, lines, strict=True):
        assert line["custom_id"] == cid and line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        assert line["body"] == json.loads(d.encode_request(r, CFG).unwrap().body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(chat_request(model="claude-3-5-haiku-latest"), min_size=1, max_size=4))
def test_anthropic_params_are_the_chat_bodies(reqs: list[ChatRequest]) -> None:
    """Each request's params are exactly the Messages body chat would send."""
    d = get_dialect("anthropic").unwrap()
    named = [(f"id-{i}", r) for i, r in enumerate(reqs)]
    encoded = B.encode_create("anthropic", named, CFG, model="claude-3-5-haiku-latest")
    if isinstance(encoded, Failure):
        assert any(isinstance(d.encode_request(r, CFG), Failure) for r in reqs)
        return
    req = encoded.unwrap()
    assert req.url == "https://api.anthropic.com/v1/messages/batches" and req.headers["x-api-key"] == "sk-test-secret-123"
    items = json.loads(req.body)["requests"]
    assert [i["custom_id"] for i in items] == [c for c, _ in named]
    assert [i["params"] for i in items] == [json.loads(d.encode_request(r, CFG).unwrap().body) for _, r in named]


def test_gemini_and_azure_addresses() -> None:
    """Gemini's batch paths hang off its API version; Azure's off /openai with the api-version kept."""
    req = ChatRequest(model="gemini-2.5-flash", messages=(Message.user("hi"),))
    create = B.encode_create("gemini", [("k", req)], CFG, model="gemini-2.5-flash").unwrap()
    assert create.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:batchGenerateContent"
    body = json.loads(create.body)["batch"]["inputConfig"]["requests"]["requests"]
    assert body == [{"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, "metadata": {"key": "k"}}]
    assert B.encode_cancel("gemini", "batches/abc", CFG).unwrap().url.endswith("/v1beta/batches/abc:cancel")
    az = ProviderConfig(api_key=Secret("k"), base_url="https://r.openai.azure.com", api_version="2024-10-21")
    assert B.encode_retrieve("azure", "batch_1", az).unwrap().url == \
        "https://r.openai.azure.com/openai/batches/batch_1?api-version=2024-10-21"
    job = B.BatchJob(provider="azure", id="b", status=B.BatchStatus.COMPLETED, raw_status="completed",
                     output_file_id="file-o", error_file_id="file-e")
    urls = [r.url for r in B.encode_result_requests(job, az).unwrap()]
    assert urls == ["https://r.openai.azure.com/openai/files/file-o/content?api-version=2024-10-21",
                    "https://r.openai.azure.com/openai/files/file-e/content?api-version=2024-10-21"]


def test_secrets_never_in_reprs() -> None:
    """Encoded batch requests show their credentials redacted."""
    req = ChatRequest(model="gpt-4o-mini", messages=(Message.user("hi"),))
    up = B.encode_upload("openai", [("a", req)], CFG, boundary="b0b0b0b0").unwrap()
    assert "sk-test-secret-123" not in repr(up) and "sk-test-secret-123" not in repr(B.encode_list("openai", CFG))


def test_job_statuses_normalise() -> None:
    """Each provider's job object maps to the normalised status, counts and times."""
    oa = B.decode_job("openai", json.dumps({
        "id": "batch_1", "object": "batch", "status": "expired", "created_at": 100, "expires_at": 200,
        "expired_at": 201, "request_counts": {"total": 10, "completed": 6, "failed": 1}}).encode()).unwrap()
    assert (oa.status, oa.counts.expired, oa.counts.processing, oa.ended_at) == (B.BatchStatus.EXPIRED, 3, 0, 201)
    an = B.decode_job("anthropic", json.dumps({
        "id": "msgbatch_1", "type": "message_batch", "processing_status": "ended",
        "request_counts": {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 2, "expired": 0},
        "created_at": "2024-08-20T18:37:24.100435Z", "ended_at": "2024-08-20T18:40:00Z",
        "cancel_initiated_at": "2024-08-20T18:38:00Z", "expires_at": "2024-08-21T18:37:24.100435Z"}).encode()).unwrap()
    assert an.status is B.BatchStatus.CANCELLED and an.counts.total == 3 and an.created_at == 1724179044.100435
    ge = B.decode_job("gemini", json.dumps({"name": "batches/1", "metadata": {
        "state": "BATCH_STATE_RUNNING", "createTime": "2025-07-01T00:00:00.123456789Z",
        "batchStats": {"requestCount": "4", "pendingRequestCount": "4"}}}).encode()).unwrap()
    assert (ge.status, ge.raw_status, ge.counts.total, ge.counts.processing) == (
        B.BatchStatus.IN_PROGRESS, "BATCH_STATE_RUNNING", 4, 4)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.one_of(st.integers(-(10**30), 10**30), st.text(max_size=30)))
def test_job_fields_of_any_value_never_raise(when: str, count: int | str) -> None:
    """Times and counts of any value (bad dates, huge or non-numeric int64 strings) decode without raising."""
    an = json.dumps({"id": "m", "processing_status": "ended", "created_at": when, "ended_at": when,
                     "request_counts": {"succeeded": 1}}).encode()
    assert isinstance(B.decode_job("anthropic", an), Success)
    ge = json.dumps({"name": "batches/x", "metadata": {"createTime": when, "endTime": when, "state": "BATCH_STATE_SUCCEEDED",
                     "batchStats": {"requestCount": count, "successfulRequestCount": count}}}).encode()
    assert isinstance(B.decode_job("gemini", ge), Success | Failure)

"""Provider batch jobs end to end: the client against the fakes, and the official SDKs against the fakes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes
from returns.result import Success

from interlingua.core import ChatRequest, ErrorKind, Message
from interlingua.core.batch import BATCH_CANCELLED, BATCH_EXPIRED, BatchStatus
from interlingua.effects import Client, LlmConfig
from interlingua.fakes import FakeServer

MODELS = {
    "openai": "openai:gpt-4o-mini",
    "azure": "azure:gpt-4o-mini",
    "anthropic": "anthropic:claude-3-5-haiku-latest",
    "gemini": "gemini:gemini-2.5-flash",
}
PROMPTS = {f"req-{i}": f"question number {i}" for i in range(5)}


async def _results(client: Client, ref: object) -> dict[str, object]:
    out = {}
    async for cid, r in client.batch_results(ref):  # type: ignore[arg-type]
        out[cid] = r
    return out


@pytest.mark.parametrize("provider", list(MODELS))
async def test_round_trip_equals_chat(client: Client, fake: FakeServer, provider: str) -> None:
    """submit → advance → results gives, per custom_id, the very answer chat gives for that request."""
    model = MODELS[provider]
    submitted = await client.submit_batch(model, PROMPTS)
    job = submitted.unwrap()
    assert job.provider == provider and not job.done
    assert job.counts.total in (0, len(PROMPTS))  # Anthropic and Gemini count at once; OpenAI while validating may say 0
    early = await _results(client, job)
    assert early == {}  # nothing before the job ends
    await fake.advance_batches(3)
    status = (await client.batch_status(job.ref)).unwrap()
    assert status.status is BatchStatus.COMPLETED and status.done
    assert status.counts.total == len(PROMPTS) and status.counts.succeeded == len(PROMPTS)
    got = await _results(client, job)
    assert set(got) == set(PROMPTS)
    for cid, prompt in PROMPTS.items():
        chat = (await client.chat(model, prompt)).unwrap()
        answer = got[cid].unwrap()  # type: ignore[attr-defined]
        assert answer.text == chat.text == f"Fake reply: {prompt}"
        assert answer.usage == chat.usage and answer.finish_reason == chat.finish_reason
        assert answer.model == chat.model


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_per_request_errors_keep_their_kind(client: Client, fake: FakeServer, provider: str) -> None:
    """A request the provider refuses inside a batch comes back as the same LlmError kind chat would give."""
    fake.batches.fail_request("req-1", "429")
    fake.batches.fail_request("req-2", "401")
    job = (await client.submit_batch(MODELS[provider], PROMPTS)).unwrap()
    await fake.advance_batches(3)
    got = await _results(client, job)
    assert got["req-0"].unwrap().text == "Fake reply: question number 0"  # type: ignore[attr-defined]
    assert got["req-1"].failure().kind is ErrorKind.RATE_LIMIT  # type: ignore[attr-defined]
    assert got["req-2"].failure().kind is ErrorKind.AUTHENTICATION  # type: ignore[attr-defined]
    status = (await client.batch_status(job)).unwrap()
    assert status.counts.errored == 2 and status.counts.succeeded == 3


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_expiry_and_cancellation(client: Client, fake: FakeServer, provider: str) -> None:
    """Requests never run are expired or cancelled outcomes, by custom_id, next to the answered ones."""
    model = MODELS[provider]
    expiring = (await client.submit_batch(model, PROMPTS)).unwrap()
    cancelled = (await client.submit_batch(model, PROMPTS)).unwrap()
    await fake.advance_batches(1, max_requests=2) if provider == "anthropic" else await fake.advance_batches(2, max_requests=2)
    fake.batches.expire(expiring.id)
    c = (await client.cancel_batch(cancelled.ref)).unwrap()
    assert c.status is BatchStatus.CANCELLING
    await fake.advance_batches(1)
    e = (await client.batch_status(expiring)).unwrap()
    c = (await client.batch_status(cancelled)).unwrap()
    assert e.status is BatchStatus.EXPIRED and c.status is BatchStatus.CANCELLED
    assert e.counts.expired == 3 and c.counts.cancelled == 3
    for job, code in ((e, BATCH_EXPIRED), (c, BATCH_CANCELLED)):
        got = await _results(client, job)
        assert set(got) == set(PROMPTS)
        ok = {k for k, r in got.items() if isinstance(r, Success)}
        assert len(ok) == 2
        assert all(r.failure().code == code for k, r in got.items() if k not in ok)  # type: ignore[attr-defined]


async def test_gemini_cancel_and_list(client: Client, fake: FakeServer) -> None:
    """Gemini's cancel (a custom method answering {}) reads the job back; list shows jobs newest first."""
    a = (await client.submit_batch(MODELS["gemini"], {"x": "one"})).unwrap()
    b = (await client.submit_batch(MODELS["gemini"], {"y": "two"})).unwrap()
    assert a.status is BatchStatus.VALIDATING and a.id.startswith("batches/")
    c = (await client.cancel_batch(b)).unwrap()
    assert c.id == b.id and c.status is BatchStatus.IN_PROGRESS  # RUNNING until the cancel takes effect
    await fake.advance_batches()
    assert (await client.batch_status(b)).unwrap().status is BatchStatus.CANCELLED
    listed = (await client.list_batches("gemini")).unwrap()
    assert [j.id for j in listed] == [b.id, a.id]


@pytest.mark.parametrize("provider", list(MODELS))
async def test_batch_control_calls_leave_a_scripted_chat_answer_queued(
    client: Client, fake: FakeServer, provider: str
) -> None:
    """Listing batches generates no content: a scripted chat answer stays for the chat call it was meant
    for, and a fault aimed at the batch endpoint hits the batch call, not the chat."""
    fake.script(provider, ["Scripted for chat."])
    assert type(await client.list_batches(provider)) is Success
    assert (await client.chat(MODELS[provider], "hello")).unwrap().text == "Scripted for chat."
    fake.fail_next(provider, "500", endpoint="batch")
    assert (await client.list_batches(provider)).failure().status == 500
    assert (await client.chat(MODELS[provider], "hello")).unwrap().text == "Fake reply: hello"


async def test_invalid_inputs_are_failures(client: Client) -> None:
    """Bad references, unsupported providers and empty batches are Failures, never exceptions."""
    assert (await client.batch_status("nonsense")).failure().kind is ErrorKind.INVALID_REQUEST
    assert (await client.submit_batch("ollama:llama3", {"a": "hi"})).failure().kind is ErrorKind.INVALID_REQUEST
    assert (await client.submit_batch("openai:gpt-4o-mini", {})).failure().kind is ErrorKind.INVALID_REQUEST
    missing = await client.batch_status("openai:batch_nope")
    assert missing.failure().kind is ErrorKind.NOT_FOUND
    assert (await client.list_batches("bedrock")).failure().kind is ErrorKind.INVALID_REQUEST


async def test_requests_keep_their_options(client: Client, fake: FakeServer) -> None:
    """A ChatRequest's own options travel in the batch line exactly as chat would send them."""
    req = ChatRequest(model="gpt-4o-mini", messages=(Message.system("be brief"), Message.user("count to three")),
                      max_tokens=2, temperature=0.5)
    job = (await client.submit_batch("openai:gpt-4o-mini", {"short": req})).unwrap()
    upload = next(r for r in fake.requests_for("openai") if r.path == "/v1/files")
    line = next(ln for ln in upload.body.split(b"\r\n") if ln.startswith(b"{"))
    body = json.loads(line)["body"]
    assert body["max_completion_tokens"] == 2 and body["temperature"] == 0.5
    await fake.advance_batches(3)
    got = await _results(client, job)
    chat = (await client.chat(req)).unwrap()
    assert got["short"].unwrap().text == chat.text and chat.finish_reason.value == "length"  # type: ignore[attr-defined]


# -- the official SDKs against the fakes' batch endpoints --------------------------------------------


@pytest.fixture
async def oai(fake: FakeServer) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0)
    yield c
    await c.close()


async def test_openai_sdk_batch(oai: openai.AsyncOpenAI, fake: FakeServer) -> None:
    """openai files.create + batches.create/retrieve/list + files.content work unmodified."""
    lines = "".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]}}) + "\n"
                    for i in range(3))
    f = await oai.files.create(file=("in.jsonl", lines.encode()), purpose="batch")
    assert f.purpose == "batch" and f.bytes == len(lines)
    b = await oai.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert b.status == "validating"
    fake.batches.fail_request("r2", "500")
    await fake.advance_batches(3)
    b = await oai.batches.retrieve(b.id)
    assert b.status == "completed" and b.request_counts is not None
    assert (b.request_counts.total, b.request_counts.completed, b.request_counts.failed) == (3, 2, 1)
    assert b.output_file_id and b.error_file_id
    out = [json.loads(x) for x in (await oai.files.content(b.output_file_id)).text.splitlines()]
    assert {o["custom_id"]: o["response"]["body"]["choices"][0]["message"]["content"] for o in out} == {
        "r0": "Fake reply: hi 0", "r1": "Fake reply: hi 1"}
    err = [json.loads(x) for x in (await oai.files.content(b.error_file_id)).text.splitlines()]
    assert err[0]["custom_id"] == "r2" and err[0]["response"]["status_code"] == 500
    assert [x.id async for x in oai.batches.list()] == [b.id]
    cancelled = await oai.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert (await oai.batches.cancel(cancelled.id)).status == "cancelling"


async def test_openai_sdk_invalid_input_fails_the_batch(oai: openai.AsyncOpenAI, fake: FakeServer) -> None:
    """Duplicate custom_ids fail the batch at validation with OpenAI's per-line errors."""
    line = json.dumps({"custom_id": "same", "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}})
    f = await oai.files.create(file=("in.jsonl", (line + "\n" + line + "\n").encode()), purpose="batch")
    b = await oai.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert b.status == "failed" and b.errors is not None and b.errors.data
    assert b.errors.data[0].code == "duplicate_custom_id" and b.errors.data[0].line == 2


async def test_anthropic_sdk_batch(fake: FakeServer) -> None:
    """anthropic messages.batches create/retrieve/list/results/cancel work unmodified."""
    ac = anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key, max_retries=0)
    params = {"model": "claude-3-5-haiku-latest", "max_tokens": 64}
    mb = await ac.messages.batches.create(requests=[
        {"custom_id": "ok", "params": {**params, "messages": [{"role": "user", "content": "hi"}]}},  # type: ignore[list-item]
        {"custom_id": "bad", "params": {**params, "messages": []}},  # type: ignore[list-item]
    ])
    assert mb.processing_status == "in_progress" and mb.results_url is None
    await fake.advance_batches()
    mb = await ac.messages.batches.retrieve(mb.id)
    assert mb.processing_status == "ended" and mb.request_counts.succeeded == 1 and mb.request_counts.errored == 1
    results = {r.custom_id: r.result async for r in await ac.messages.batches.results(mb.id)}
    assert results["ok"].type == "succeeded" and results["ok"].message.content[0].text == "Fake reply: hi"  # type: ignore[union-attr]
    assert results["bad"].type == "errored" and results["bad"].error.error.type == "invalid_request_error"  # type: ignore[union-attr]
    assert [b.id async for b in ac.messages.batches.list()] == [mb.id]
    other = await ac.messages.batches.create(requests=[
        {"custom_id": "c", "params": {**params, "messages": [{"role": "user", "content": "x"}]}}])  # type: ignore[list-item]
    assert (await ac.messages.batches.cancel(other.id)).processing_status == "canceling"
    await fake.advance_batches()
    results = {r.custom_id: r.result.type async for r in await ac.messages.batches.results(other.id)}
    assert results == {"c": "canceled"}
    await ac.close()


@pytest.fixture
async def gc(fake: FakeServer) -> AsyncIterator[genai.Client]:
    """google-genai on v1beta pointed at the fake, closed afterwards (no connection left to the collector)."""
    c = genai.Client(api_key=fake.api_key, http_options=gtypes.HttpOptions(base_url=fake.url_for("gemini"), api_version="v1beta"))
    yield c
    await c.aio.aclose()


async def test_genai_sdk_batch(fake: FakeServer, gc: genai.Client) -> None:
    """google-genai batches create/get/list/cancel work unmodified; output read from where the SDK looks."""
    job = await gc.aio.batches.create(model="gemini-2.5-flash", src=[
        {"contents": [{"role": "user", "parts": [{"text": "hey"}]}], "metadata": {"key": "k1"}},
        {"contents": [{"role": "user", "parts": [{"text": "you"}]}], "metadata": {"key": "k2"}},
    ])
    assert job.name and job.state == gtypes.JobState.JOB_STATE_PENDING
    await fake.advance_batches(2)
    job = await gc.aio.batches.get(name=job.name)
    assert job.state == gtypes.JobState.JOB_STATE_SUCCEEDED and job.dest and job.dest.inlined_responses
    texts = {r.metadata["key"]: r.response.text for r in job.dest.inlined_responses}  # type: ignore[index,union-attr]
    assert texts == {"k1": "Fake reply: hey", "k2": "Fake reply: you"}
    assert [j.name async for j in await gc.aio.batches.list()] == [job.name]
    second = await gc.aio.batches.create(model="gemini-2.5-flash", src=[
        {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}])
    await gc.aio.batches.cancel(name=second.name)  # type: ignore[arg-type]
    await fake.advance_batches()
    assert (await gc.aio.batches.get(name=second.name)).state == gtypes.JobState.JOB_STATE_CANCELLED  # type: ignore[arg-type]
    assert isinstance(await _unknown_batch(gc), Exception)


async def _unknown_batch(gc: genai.Client) -> Exception | None:
    try:
        await gc.aio.batches.get(name="batches/does-not-exist")
    except Exception as e:  # the SDK raises its ClientError for the 404
        return e
    return None



async def test_gemini_large_job_goes_through_a_file(client: Client, fake: FakeServer) -> None:
    """Above the inline limit a Gemini job is uploaded as JSONL and answered in a responses file, equal to chat."""
    fake.batches.fail_request("req-3", "429")
    job = (await client.submit_batch(MODELS["gemini"], PROMPTS, inline_limit=0)).unwrap()
    start, finish = [r for r in fake.requests_for("gemini") if r.path == "/upload/v1beta/files"]
    assert start.headers["X-Goog-Upload-Command"] == "start" and start.headers["x-goog-api-key"] == "[redacted]"
    assert [json.loads(x)["key"] for x in finish.body.splitlines()] == list(PROMPTS)
    await fake.advance_batches(2)
    done = (await client.batch_status(job)).unwrap()
    assert done.status is BatchStatus.COMPLETED and done.output_file_id and done.output_file_id.startswith("files/")
    got = await _results(client, job)
    assert list(got) == list(PROMPTS)  # the provider's order
    assert got["req-3"].failure().kind is ErrorKind.RATE_LIMIT  # type: ignore[attr-defined]
    for cid in ("req-0", "req-4"):
        chat = (await client.chat(MODELS["gemini"], PROMPTS[cid])).unwrap()
        assert got[cid].unwrap().text == chat.text and got[cid].unwrap().usage == chat.usage  # type: ignore[attr-defined]


async def test_genai_sdk_file_batch(fake: FakeServer, gc: genai.Client) -> None:
    """google-genai files.upload + batches.create(src=file) + files.download of the responses file work unmodified."""
    import io

    lines = "".join(json.dumps({"key": f"k{i}", "request": {"contents": [{"role": "user", "parts": [{"text": f"t{i}"}]}]}}) + "\n"
                    for i in range(2))
    uploaded = await gc.aio.files.upload(file=io.BytesIO(lines.encode()),
                                         config=gtypes.UploadFileConfig(mime_type="application/jsonl", display_name="in"))
    assert uploaded.name and uploaded.name.startswith("files/")
    job = await gc.aio.batches.create(model="gemini-2.5-flash", src=uploaded.name)
    await fake.advance_batches(2)
    job = await gc.aio.batches.get(name=job.name)  # type: ignore[arg-type]
    assert job.state == gtypes.JobState.JOB_STATE_SUCCEEDED and job.dest and job.dest.file_name
    data = await gc.aio.files.download(file=job.dest.file_name)
    rows = [json.loads(x) for x in data.decode().splitlines()]
    assert {r["key"]: r["response"]["candidates"][0]["content"]["parts"][0]["text"] for r in rows} == {
        "k0": "Fake reply: t0", "k1": "Fake reply: t1"}


async def test_azure_dated_api_version(fake: FakeServer) -> None:
    """With a dated api-version, Azure batch calls go to /openai/…?api-version= and lines name the deployment."""
    from .helpers import config_for

    cfg = config_for(fake, retry_enabled=False).with_provider("azure", api_version="2024-10-21")
    async with Client(cfg) as client:
        job = (await client.submit_batch("azure:gpt-4o-mini", {"a": "hello azure"})).unwrap()
        await fake.advance_batches(3)
        got = await _results(client, job)
        chat = (await client.chat("azure:gpt-4o-mini", "hello azure")).unwrap()
    paths = {(r.path, r.query.get("api-version")) for r in fake.requests_for("azure")}
    assert ("/openai/files", "2024-10-21") in paths and ("/openai/batches", "2024-10-21") in paths
    assert ("/openai/deployments/gpt-4o-mini/chat/completions", "2024-10-21") in paths  # the line, answered
    assert got["a"].unwrap().text == chat.text == "Fake reply: hello azure"  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_wrong_key_is_an_authentication_failure_without_the_key(fake: FakeServer, provider: str) -> None:
    """A rejected key on a batch call is Failure(authentication/permission) whose text never shows the key."""
    from .helpers import config_for

    secret = "sk-wrong-secret-0123456789"
    cfg = config_for(fake, retry_enabled=False).with_provider(provider, api_key=secret)
    async with Client(cfg) as client:
        err = (await client.submit_batch(MODELS[provider], {"a": "hi"})).failure()
        listed = (await client.list_batches(provider)).failure()
    assert err.kind in (ErrorKind.AUTHENTICATION, ErrorKind.PERMISSION) and listed.kind is err.kind
    for e in (err, listed):
        assert secret not in repr(e) and secret not in str(e)


async def test_fake_jobs_never_show_credentials(client: Client, fake: FakeServer) -> None:
    """The fake keeps the creator's key to answer its requests, but no repr shows it."""
    job = (await client.submit_batch(MODELS["anthropic"], {"a": "hi"})).unwrap()
    held = fake.batches.jobs[job.id]
    assert fake.api_key in held.headers.values() and fake.api_key not in repr(held) and fake.api_key not in repr(job)


async def test_control_calls_retry_only_when_safe(fake: FakeServer) -> None:
    """Reads retry on 5xx; a create retries on 429 (not acted on) but never on 500 (it may have made a job)."""
    import asyncio

    from interlingua.effects.client import Env

    from .helpers import config_for

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    async with Client(config_for(fake, max_retries=2, retry_delay=0.001), env=Env(sleep=no_wait)) as client:
        fake.fail_next("anthropic", "500")
        refused = await client.submit_batch(MODELS["anthropic"], {"a": "hi"})
        assert refused.failure().kind is ErrorKind.PROVIDER and fake.attempts("anthropic") == 1
        fake.fail_next("anthropic", "429;retry-after=0")
        job = (await client.submit_batch(MODELS["anthropic"], {"a": "hi"})).unwrap()
        assert len(fake.batches.jobs) == 1
        fake.fail_next("anthropic", "500")
        assert (await client.batch_status(job)).unwrap().id == job.id
    assert fake.attempts("anthropic") == 5  # 1 refused create, 2 for the create, 2 for the read


# -- listing: every page, in the provider's order -----------------------------------------------------


@pytest.mark.parametrize("provider", list(MODELS))
async def test_list_follows_every_page(client: Client, fake: FakeServer, provider: str) -> None:
    """With pages of two, list_batches still gives all five jobs, newest first, each once; ``limit``
    gives the newest N, asking for no more than it needs. The fake saw the provider's own paging
    parameters (OpenAI/Azure ``after``, Anthropic ``after_id``, Gemini ``pageToken``)."""
    fake.batches.page_max = 2
    made = [(await client.submit_batch(MODELS[provider], {"a": f"job {i}"})).unwrap().id for i in range(5)]
    listed = (await client.list_batches(provider)).unwrap()
    assert [j.id for j in listed] == made[::-1]
    cursors = [r.query for r in fake.requests_for(provider) if r.method == "GET" and r.path.endswith("/batches")]
    assert len(cursors) == 3  # 2 + 2 + 1
    cursor_name = {"anthropic": "after_id", "gemini": "pageToken"}.get(provider, "after")
    assert cursor_name not in cursors[0] and all(cursor_name in q for q in cursors[1:])
    if provider != "gemini":  # OpenAI's and Anthropic's cursor is the last id of the page before
        assert [q[cursor_name] for q in cursors[1:]] == [made[3], made[1]]
    top = (await client.list_batches(provider, limit=3)).unwrap()
    assert [j.id for j in top] == made[:1:-1]
    size_name = "pageSize" if provider == "gemini" else "limit"
    sizes = [r.query[size_name] for r in fake.requests_for(provider) if r.method == "GET" and r.path.endswith("/batches")]
    assert sizes[3:] == ["3", "1"]  # the second page asks only for what is still missing


async def test_list_refuses_a_limit_below_one(client: Client, fake: FakeServer) -> None:
    before = len(fake.requests_for("openai"))
    assert (await client.list_batches("openai", limit=0)).failure().kind is ErrorKind.INVALID_REQUEST
    assert len(fake.requests_for("openai")) == before  # nothing sent


_JOB = {"id": "batch_a", "object": "batch", "endpoint": "/v1/chat/completions", "status": "completed",
        "created_at": 1, "request_counts": {"total": 1, "completed": 1, "failed": 0}}


@pytest.mark.parametrize(("second_page", "kind", "words"), [
    ("loop", ErrorKind.DECODE, "already gave"),  # the same cursor again, forever
    ("no-cursor", ErrorKind.DECODE, "names no last id"),  # "more follow", and nothing to go on from
    ("500", ErrorKind.PROVIDER, "boom"),  # a page that fails
])
async def test_a_listing_that_cannot_go_on_fails_whole(aiohttp_server: Any, second_page: str, kind: ErrorKind,
                                                     words: str) -> None:
    """Past its first page a listing that loops, names no cursor or fails is a Failure of that kind,
    never the jobs read so far passed off as the whole list (and never an endless loop)."""
    from aiohttp import web

    hits: list[str] = []

    async def listing(request: web.Request) -> web.Response:
        hits.append(request.query.get("after", ""))
        if not request.query.get("after") or second_page == "loop":
            return web.json_response({"object": "list", "data": [_JOB], "has_more": True, "first_id": "batch_a",
                                      "last_id": "batch_a"})
        if second_page == "no-cursor":
            return web.json_response({"object": "list", "data": [], "has_more": True, "first_id": None, "last_id": None})
        return web.json_response({"error": {"message": "boom", "type": "server_error", "param": None, "code": None}},
                                 status=500)

    app = web.Application()
    app.router.add_get("/v1/batches", listing)
    server = await aiohttp_server(app)
    cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=str(server.make_url("/v1")), api_key="k")
    async with Client(cfg) as c:
        err = (await c.list_batches("openai")).failure()
    assert err.kind is kind and words in err.message
    assert hits == ["", "batch_a"]  # the loop is caught on the page that repeats the cursor


async def test_sdks_page_through_the_fakes_listings(fake: FakeServer, oai: openai.AsyncOpenAI, gc: genai.Client) -> None:
    """Each official SDK's own paginator walks the fake's pages (two jobs a page, five jobs) to the
    same newest-first list; Anthropic's ``before_id`` pages back towards the newest."""
    from .helpers import config_for

    async with Client(config_for(fake)) as client:
        made = {p: [(await client.submit_batch(MODELS[p], {"a": f"job {i}"})).unwrap().id for i in range(5)]
                for p in ("openai", "anthropic", "gemini")}
    assert [b.id async for b in oai.batches.list(limit=2)] == made["openai"][::-1]
    ac = anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key, max_retries=0)
    try:
        assert [b.id async for b in ac.messages.batches.list(limit=2)] == made["anthropic"][::-1]
        first = await ac.messages.batches.list(limit=2, after_id=made["anthropic"][2])
        assert [b.id for b in first.data] == made["anthropic"][1::-1] and not first.has_more
        back = await ac.messages.batches.list(limit=2, before_id=made["anthropic"][2])
        assert [b.id for b in back.data] == made["anthropic"][4:2:-1] and not back.has_more
    finally:
        await ac.close()
    pager = await gc.aio.batches.list(config=gtypes.ListBatchJobsConfig(page_size=2))
    assert [j.name async for j in pager] == made["gemini"][::-1]


async def test_fake_listings_refuse_what_the_services_refuse(fake: FakeServer) -> None:
    """Out-of-range page sizes, both of Anthropic's cursors at once and a page token the server never
    gave are 400s in each provider's error shape."""
    import aiohttp

    key = fake.api_key
    async with aiohttp.ClientSession() as s:
        async with s.get(fake.url_for("openai") + "/batches?limit=101", headers={"Authorization": f"Bearer {key}"}) as r:
            body = await r.json()
        assert r.status == 400 and body["error"]["param"] == "limit" and "<= 100" in body["error"]["message"]
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        for query in ("limit=0", "before_id=a&after_id=b"):
            async with s.get(fake.url_for("anthropic") + "/v1/messages/batches?" + query, headers=headers) as r:
                body = await r.json()
            assert r.status == 400 and body["error"]["type"] == "invalid_request_error"
        async with s.get(fake.url_for("gemini") + "/v1beta/batches?pageToken=nonsense", headers={"x-goog-api-key": key}) as r:
            body = await r.json()
        assert r.status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"

"""Pure-core timings, in a fresh process: ``python -m benchmarks._core '<json>'``.

For each provider the worker first fetches one real non-streamed body and one streamed body from
the fake (over loopback, with a bare aiohttp session), then times, interleaved and repeated:

* ``decode_response``: ``interlingua.core.decode_response(provider, 200, body, headers)`` against
  ``json.loads(body)`` of the same bytes (which builds dicts only — no validation, no normal form);
* ``encode_request``: ``interlingua.core.encode_request(...)`` against ``msgspec.json.encode`` and
  ``json.dumps`` of the identical wire dict (the floor builds that dict by hand; interlingua starts
  from a typed :class:`ChatRequest` and also builds URL and headers);
* stream folding: the streamed body fed frame by frame (as the server wrote it) through the
  dialect's ``stream_feed`` + the generic fold, against the floor's hand split (blank-line split,
  ``data:`` strip, ``msgspec.json.decode``, text appended; for Bedrock's binary event stream, the
  floor's length-prefixed split without CRC checks, then the same decode).

Each figure is the median of 5 repeats of a loop calibrated to ~``budget/10`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

from ._clients import Scenario, _data_of, _split_eventstream, _split_frames

FRAMING: dict[str, str] = {
    "openai": "sse", "azure": "sse", "xai": "sse", "docker": "sse", "anthropic": "sse", "gemini": "sse",
    "ollama": "ndjson", "bedrock": "eventstream",
}


def _calibrate(fn: Callable[[], object], target: float) -> int:
    n = 1
    while n < 1 << 20:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= target:
            return n
        n *= 2
    return n


def compare(fns: dict[str, Callable[[], object]], budget: float, repeats: int = 5) -> dict[str, float]:
    """Median seconds per call of each function, measured interleaved."""
    counts = {k: _calibrate(f, budget / (2 * repeats * len(fns))) for k, f in fns.items()}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            n = counts[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[k].append((time.perf_counter() - t0) / n)
    return {k: statistics.median(v) for k, v in samples.items()}


async def _fetch(s: Scenario) -> tuple[bytes, dict[str, str], bytes]:
    import aiohttp

    from interlingua.core import encode_request

    from ._clients import _interlingua_request

    req = _interlingua_request(s)
    out: list[Any] = []
    async with aiohttp.ClientSession() as session:
        for stream in (False, True):
            hr = encode_request(s.provider, req, api_key=s.api_key or None, base_url=s.url, stream=stream).unwrap()
            async with session.request(hr.method, hr.url, data=hr.body, headers=hr.headers.items_raw()) as r:
                body = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{s.provider}: HTTP {r.status}: {body[:200]!r}")
                out.append((body, dict(r.headers)))
    return out[0][0], out[0][1], out[1][0]


def _frames(body: bytes, framing: str) -> list[bytes]:
    """The stream as the fake wrote it: one piece per SSE event / NDJSON line / event-stream message."""
    if framing == "ndjson":
        return [line + b"\n" for line in body.split(b"\n") if line]
    if framing == "eventstream":
        out, pos = [], 0
        while pos < len(body):
            total = int.from_bytes(body[pos : pos + 4], "big")
            if total < 16:
                raise RuntimeError(f"event stream: impossible message length {total}")
            out.append(body[pos : pos + total])
            pos += total
        return out
    norm = body.replace(b"\r\n", b"\n")
    return [f + b"\n\n" for f in norm.split(b"\n\n") if f.strip()]


def _floor_fold(pieces: list[bytes], framing: str) -> int:
    dec = msgspec.json.decode
    text: list[Any] = []
    buf = b""
    n = 0
    if framing == "ndjson":
        for p in pieces:
            *lines, buf = (buf + p).split(b"\n")
            for line in lines:
                if line:
                    obj = dec(line)
                    text.append((obj.get("message") or {}).get("content"))
                    n += 1
        return n
    if framing == "eventstream":
        for p in pieces:
            messages, buf = _split_eventstream(buf + p)
            for headers, payload in messages:
                obj = dec(payload)
                text.append(headers.get(b":event-type") == b"contentBlockDelta" and obj.get("delta"))
                n += 1
        return n
    for p in pieces:
        frames, buf = _split_frames(buf + p)
        for f in frames:
            data = _data_of(f)
            if data is None or data == b"[DONE]":
                continue
            obj = dec(data)
            text.append(obj.get("type") or obj.get("choices"))
            n += 1
    return n


def bench_provider(s: Scenario, budget: float) -> dict[str, Any]:
    from interlingua.core import DIALECTS, ProviderConfig, Secret, decode_response, encode_request
    from interlingua.core.fold import StreamFold

    from ._clients import _interlingua_request

    body, headers, stream_body = asyncio.run(_fetch(s))
    d = DIALECTS[s.provider]
    req = _interlingua_request(s)
    cfg = ProviderConfig(api_key=Secret(s.api_key) if s.api_key else None, base_url=s.url)
    if not decode_response(s.provider, 200, body, headers).unwrap().text:
        raise RuntimeError(f"{s.provider}: decoded an empty reply")
    decode = compare(
        {
            "json.loads": lambda: json.loads(body),
            "interlingua": lambda: decode_response(s.provider, 200, body, headers),
        },
        budget,
    )
    wire = json.loads(encode_request(s.provider, req, api_key=s.api_key or None, base_url=s.url).unwrap().body)
    enc = msgspec.json.Encoder()
    encode = compare(
        {
            "msgspec": lambda: enc.encode(wire),
            "json.dumps": lambda: json.dumps(wire).encode(),
            "interlingua": lambda: encode_request(s.provider, req, api_key=s.api_key or None, base_url=s.url),
            "dialect": lambda: d.encode_request(req, cfg, stream=False, now=0.0),
        },
        budget,
    )
    framing = FRAMING.get(s.provider, "sse")
    pieces = _frames(stream_body, framing)

    def fold() -> None:
        st = d.stream_start()
        chunks = StreamFold()
        for p in pieces:
            st, events = d.stream_feed(st, p)
            for e in events:
                chunks.add(e)  # type: ignore[arg-type]
        for e in d.stream_finish(st).unwrap():
            chunks.add(e)
        chunks.response(s.provider)

    fold_t = compare({"floor": lambda: _floor_fold(pieces, framing), "interlingua": fold}, budget)
    return {
        "provider": s.provider,
        "body_bytes": len(body),
        "stream_bytes": len(stream_body),
        "stream_events": _floor_fold(pieces, framing),
        "decode": decode,
        "encode": encode,
        "fold": fold_t,
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    out = [bench_provider(Scenario(**sc), spec["budget"]) for sc in spec["scenarios"]]
    sys.stdout.write(json.dumps({"providers": out}) + "\n")


if __name__ == "__main__":
    main()

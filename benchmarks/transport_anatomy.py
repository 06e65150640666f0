"""Where the floor's CPU per request goes: aiohttp's client machinery against a bare HTTP/1.1 exchange.

``python -m benchmarks.transport_anatomy [--rounds 7] [--requests 400] [--smoke]``

Issue 19's per-request target compares interlingua with the floor, a hand-written client on a reused
``aiohttp.ClientSession`` and msgspec (``benchmarks._clients.FLOORS``). This script asks how much of
the floor is the floor's own work and how much is aiohttp's request path, so the target's ratio can be
read against what a client can change. Four rows, the OpenAI row of the main benchmark (its request,
the fake's answer with its rate-limit headers), sequential non-stream requests:

* ``bare exchange``: the same request bytes written on one kept-alive asyncio connection, the reply
  read by a minimal ``Content-Length`` parser and decoded by msgspec as the floor decodes it. **Not a
  client**: no pool, no chunked bodies, no compression, no TLS, no timeouts, no errors. It is the
  least CPU an exchange over asyncio's sockets costs: what no aiohttp-based client can go below.
* ``floor``: the main benchmark's floor, unchanged (the baseline of the ratios).
* ``interlingua transport``: ``AiohttpTransport.send`` of an already encoded request (aiohttp, the
  transport's deadlines and body bound; no encode, decode, guard or retries).
* ``interlingua``: ``Client.chat`` with the default ``LlmConfig``.

Method: the fakes run in their own process (``benchmarks._fakeproc``), so only the client's work is
timed: ``time.process_time`` of this process around a batch of sequential calls, divided by the batch
size. The rows are interleaved (the order rotated every round) and each row's median over the rounds
is reported with its ratio to the floor's. Bounded by count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import msgspec
import yarl

from interlingua.core.prepare import prepare_call
from interlingua.effects import Client, LlmConfig
from interlingua.effects.transport import AiohttpTransport, Timeouts

from ._clients import CLIENTS, Scenario, _interlingua_request
from ._run import PROVIDERS, FakeProcess

ROWS = ("bare exchange", "floor", "interlingua transport", "interlingua")


# What the bare exchange decodes: the floor's own typed structs (benchmarks._clients._floor_openai).
class _Msg(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    message: _Msg | None = None
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Completion(msgspec.Struct):
    id: str = ""
    choices: list[_Choice] = []
    usage: _Usage | None = None


class _Bare(asyncio.Protocol):
    """One kept-alive connection, one request at a time, ``Content-Length`` bodies only."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.end = -1  # where the current reply ends in buf (-1: its head is not complete yet)
        self.body_at = 0

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.end < 0:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            length = next(int(line[15:]) for line in bytes(self.buf[:i]).lower().split(b"\r\n")
                          if line.startswith(b"content-length:"))
            self.body_at, self.end = i + 4, i + 4 + length
        if len(self.buf) >= self.end and self.waiter is not None:
            body = bytes(self.buf[self.body_at:self.end])
            del self.buf[:self.end]
            self.end = -1
            self.waiter.set_result(body)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the fake closed the connection"))


async def _rows(s: Scenario) -> tuple[dict[str, Callable[[], Awaitable[object]]], Callable[[], Awaitable[None]]]:
    cfg = LlmConfig().with_provider(s.provider, base_url=s.url, api_key=s.api_key)
    request = _interlingua_request(s)
    p = prepare_call(request, None, {}, providers=cfg.providers, catalog=cfg.catalog)
    assert not isinstance(p, Exception) and hasattr(p, "dialect"), p
    encoded = p.dialect.encode_request(p.request, p.config, stream=False, now=time.time()).unwrap()
    url = yarl.URL(encoded.url)
    wire = (f"POST {url.raw_path_qs} HTTP/1.1\r\nHost: {url.raw_authority}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in encoded.headers.items_raw())
            + f"Content-Length: {len(encoded.body)}\r\n\r\n").encode() + encoded.body
    loop = asyncio.get_running_loop()
    sock, bare = await loop.create_connection(_Bare, url.host, url.port)
    decoder = msgspec.json.Decoder(_Completion)

    async def exchange() -> object:
        bare.waiter = loop.create_future()
        sock.write(wire)
        return decoder.decode(await bare.waiter).choices[0]

    floor = await CLIENTS["floor"].factory(s)
    transport = AiohttpTransport()
    timeouts = Timeouts()

    async def transport_only() -> object:
        return (await transport.send(encoded, timeouts=timeouts, max_bytes=16 << 20)).unwrap()

    client = Client(cfg)

    async def chat() -> object:
        return (await client.chat(request)).unwrap()

    async def close() -> None:
        sock.close()
        await floor.close()
        await transport.close()
        await client.close()

    return {"bare exchange": exchange, "floor": floor.once, "interlingua transport": transport_only,
            "interlingua": chat}, close


async def measure(s: Scenario, rounds: int, requests: int, max_seconds: float) -> dict[str, list[float]]:
    """CPU µs per request for each row, one figure per round."""
    rows, close = await _rows(s)
    out: dict[str, list[float]] = {name: [] for name in ROWS}
    stop = time.monotonic() + max_seconds
    try:
        for call in rows.values():  # warm-up: connections, lazy imports, caches
            for _ in range(20):
                await call()
        for r in range(rounds):
            order = ROWS[r % len(ROWS):] + ROWS[:r % len(ROWS)]
            for name in order:
                call = rows[name]
                began = time.process_time()
                for _ in range(requests):
                    await call()
                out[name].append((time.process_time() - began) / requests * 1e6)
            if time.monotonic() > stop:
                break
    finally:
        await close()
    return out


def table(figures: dict[str, list[float]]) -> str:
    floor = statistics.median(figures["floor"])
    lines = [f"| row | CPU µs/request (median of {len(figures['floor'])}) | ÷ floor |", "|---|---:|---:|"]
    for name in ROWS:
        med = statistics.median(figures[name])
        lines.append(f"| {name} | {med:.1f} | {med / floor:.2f}x |")
    bare = statistics.median(figures["bare exchange"])
    transport = statistics.median(figures["interlingua transport"])
    own = statistics.median(figures["interlingua"]) - transport
    lines.append("")
    lines.append(f"aiohttp's request path in the floor (floor - bare exchange): {(floor - bare) / floor:.0%} of the floor; "
                 f"interlingua's own work (interlingua - its transport): {own / floor:.0%} of the floor "
                 f"(the 1.25x target leaves it 1.25 - transport ÷ floor = {1.25 - transport / floor:.0%})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--smoke", action="store_true", help="one short round: checks the script runs, figures mean nothing")
    args = ap.parse_args(argv)
    rounds, requests = (1, 20) if args.smoke else (args.rounds, args.requests)
    fake = FakeProcess(max_seconds=args.max_seconds + 60)
    try:
        info, row = fake.info, PROVIDERS["openai"]
        s = Scenario(provider="openai", model=row.model, prompt=row.prompt, url=info["urls"]["openai"],
                     root=info["roots"]["openai"], api_key=info["api_key"], json_mode=row.json_mode,
                     max_tokens=row.max_tokens)
        figures = asyncio.run(measure(s, rounds, requests, args.max_seconds))
    finally:
        fake.close()
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

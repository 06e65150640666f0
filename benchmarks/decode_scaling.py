"""Stream decoding is linear in the bytes received: CPU per size, and the longest single ``feed``.

``python -m benchmarks.decode_scaling`` feeds 2, 4, 8 and 16 MB in 4 KiB slices through each
stream decoder and prints the CPU seconds per size and the ratio to the previous size (a linear
decoder costs 2x per doubling; the target is ≤ 2.3x). Then it feeds 16 MB in 64 KiB slices and
prints the longest single ``feed`` call (the target is ≤ 50 ms: the event loop is never held longer).

Workloads: one endless SSE line, one endless NDJSON line (the limit raised past 16 MB: this
measures the buffer, not the refusal), one AWS event-stream frame, and an Anthropic tool input
streamed as 64-byte ``input_json_delta`` fragments through the dialect. ``--sizes 1,2`` for a
quick run.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import time
from collections.abc import Callable, Iterator

from interlingua.core import DIALECTS, eventstream, ndjson, sse

MB = 1_000_000
Feeder = Callable[[int, int], Iterator[float]]
"""(total bytes, slice size) → the wall seconds of each feed call, CPU measured around it."""


def _slices(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _timed(pieces: Iterator[bytes], step: Callable[[bytes], None]) -> Iterator[float]:
    for piece in pieces:
        t = time.perf_counter()
        step(piece)
        yield time.perf_counter() - t


def sse_line(total: int, size: int) -> Iterator[float]:
    box = [sse.SseState(max_event_bytes=64 * MB)]

    def step(p: bytes) -> None:
        box[0] = sse.feed(box[0], p)[0]

    yield from _timed(_slices(b"data: " + b"x" * total + b"\n\n", size), step)


def ndjson_line(total: int, size: int) -> Iterator[float]:
    box = [ndjson.NdjsonState(max_line_bytes=64 * MB)]

    def step(p: bytes) -> None:
        box[0] = ndjson.feed(box[0], p)[0]

    yield from _timed(_slices(b'{"x":"' + b"x" * total + b'"}\n', size), step)


def _frame(payload: bytes) -> bytes:
    import struct
    import zlib

    headers = b"\x0b:event-type\x07\x00\x05chunk"
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + headers + payload
    return body + struct.pack("!I", zlib.crc32(body))


def eventstream_frame(total: int, size: int) -> Iterator[float]:
    box = [eventstream.EventStreamState()]

    def step(p: bytes) -> None:
        box[0] = eventstream.feed(box[0], p)[0]

    yield from _timed(_slices(_frame(b"x" * total), size), step)


def anthropic_tool_input(total: int, size: int) -> Iterator[float]:
    dialect = DIALECTS["anthropic"]
    text = json.dumps({"text": "y" * total})
    head = [
        {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}},
    ]
    deltas = (
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": text[i : i + 64]}}
        for i in range(0, len(text), 64)
    )
    tail = [{"type": "content_block_stop", "index": 0}, {"type": "message_stop"}]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in (*head, *deltas, *tail))
    box = [dialect.stream_start()]

    def step(p: bytes) -> None:
        box[0] = dialect.stream_feed(box[0], p)[0]

    yield from _timed(_slices(body, size), step)


WORKLOADS: dict[str, Feeder] = {
    "sse: one line": sse_line,
    "ndjson: one line": ndjson_line,
    "eventstream: one frame": eventstream_frame,
    "anthropic: tool input": anthropic_tool_input,
}


def _cpu(feeder: Feeder, total: int, size: int, repeat: int = 3) -> tuple[float, float]:
    """The least CPU seconds and the least longest-feed over ``repeat`` runs (noise only adds)."""
    cpu, longest = [], []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        longest.append(max(feeder(total, size), default=0.0))
        cpu.append(time.process_time() - start)
    return min(cpu), min(longest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="2,4,8,16", help="MB, comma-separated, each double the previous")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'workload':<24}" + "".join(f"{f'{s} MB cpu s':>13}" for s in sizes)
          + "".join(f"{f'x{b}/{a}':>9}" for a, b in itertools.pairwise(sizes))
          + f"{'max feed 64K':>14}")
    for name, feeder in WORKLOADS.items():
        cpu = [_cpu(feeder, s * MB, 4096)[0] for s in sizes]
        ratios = [b / a if a else float("nan") for a, b in itertools.pairwise(cpu)]
        longest = _cpu(feeder, sizes[-1] * MB, 64 * 1024)[1]
        print(f"{name:<24}" + "".join(f"{c:>13.3f}" for c in cpu) + "".join(f"{r:>9.2f}" for r in ratios)
              + f"{longest * 1000:>11.1f} ms")


if __name__ == "__main__":
    main()

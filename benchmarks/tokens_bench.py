"""Token counting throughput: :func:`count_tokens` against calling tiktoken directly, same run.

``python -m benchmarks.tokens_bench`` prints one row per workload: conversations per second through
``count_tokens`` (message framing, model lookup, tool rules included) and through a bare
``encoding.encode`` of the same texts, and their ratio (1.0 = no overhead).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from interlingua.core import Message, ToolSpec
from interlingua.core.tokens import count_tokens, get_encoding

_WEATHER = ToolSpec(
    name="get_current_weather",
    description="Get the current weather in a given location",
    parameters={"type": "object", "properties": {"location": {"type": "string", "description": "The city"}}},
)
WORKLOADS: dict[str, tuple[list[Message], tuple[ToolSpec, ...]]] = {
    "short chat (2 msgs)": ([Message.system("Be brief."), Message.user("What is the capital of France?")], ()),
    "long chat (20 msgs)": ([Message.user("Tell me more about tokenizers and byte pair encoding. " * 8)] * 20, ()),
    "chat + tool": ([Message.user("Weather in Paris?")], (_WEATHER,)),
}


def _rate(fn: Callable[[], object], min_seconds: float = 0.3) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / elapsed


def main() -> None:
    enc = get_encoding("o200k_base")
    print(f"{'workload':<22} {'count_tokens/s':>15} {'tiktoken/s':>12} {'ratio':>7}")
    for name, (messages, tools) in WORKLOADS.items():
        texts = [m.text for m in messages]

        def ours(messages: list[Message] = messages, tools: tuple[ToolSpec, ...] = tools) -> object:
            return count_tokens("openai:gpt-4o", messages, tools)

        def direct(texts: list[str] = texts) -> object:
            return sum(len(enc.encode(t)) for t in texts)

        ours()  # warm the encoding cache
        a, b = _rate(ours), _rate(direct)
        print(f"{name:<22} {a:>15,.0f} {b:>12,.0f} {a / b:>7.2f}")


if __name__ == "__main__":
    main()

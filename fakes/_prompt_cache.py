"""The providers' prompt caches, as the fakes model them: a repeated prefix is reported as read
from cache, as the real services report it in their usage.

A request is cut into *segments* in the provider's prompt order (tools, system, messages), each
with its token count and whether it ends on an explicit breakpoint. Two policies:

* ``explicit`` (Anthropic ``cache_control``, Bedrock ``cachePoint``): "the system automatically
  checks for cache hits at all previous content block boundaries" up to each breakpoint; the
  longest breakpoint prefix seen before is *read*, and the prompt up to the last breakpoint is
  *written* (the part beyond what was read). A prefix shorter than the model's minimum cacheable
  length (1024 tokens for most Claude models) is neither read nor written.
* ``automatic`` (OpenAI, Gemini implicit caching): every message boundary of a prompt of at least
  the minimum length is remembered; a later prompt sharing one reads it. OpenAI: "cache hits are
  only possible for exact prefix matches … in increments of 128 tokens" past the first 1024.

The memory is one per fake server (an aiohttp app key), so tests never see each other's entries.
TTLs are not modelled (a test's run is far shorter than five minutes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["PROMPT_CACHE", "PromptCache", "Segment", "prompt_cache"]


@dataclass(frozen=True, slots=True)
class Segment:
    """One block of the prompt: its wire JSON (identity), its tokens, and its breakpoint TTL if any."""

    value: Any
    tokens: int
    breakpoint: str | None = None  # "5m" / "1h"


@dataclass(frozen=True, slots=True)
class CacheUsage:
    read: int = 0
    write: int = 0
    write_1h: int = 0


@dataclass
class PromptCache:
    prefixes: dict[str, set[str]] = field(default_factory=dict)  # provider → prefix hashes

    def _seen(self, provider: str) -> set[str]:
        return self.prefixes.setdefault(provider, set())

    @staticmethod
    def _hashes(model: str, segments: list[Segment]) -> list[tuple[str, int, Segment]]:
        """(hash of the prefix ending at segment i, tokens up to and including i, segment i)."""
        h = hashlib.sha256(model.encode())
        out, total = [], 0
        for s in segments:
            h.update(json.dumps(s.value, sort_keys=True, separators=(",", ":")).encode())
            total += s.tokens
            out.append((h.copy().hexdigest(), total, s))
        return out

    def explicit(self, provider: str, model: str, segments: list[Segment], minimum: int = 1024) -> CacheUsage:
        if sum(s.tokens for s in segments) < minimum:
            return CacheUsage()  # no prefix reaches the minimum: nothing to hash, read or remember
        seen = self._seen(provider)
        prefixes = self._hashes(model, segments)
        marks = [i for i, (_, n, s) in enumerate(prefixes) if s.breakpoint is not None and n >= minimum]
        if not marks:
            return CacheUsage()
        # a hit may be at any block boundary up to the last breakpoint, not only at a breakpoint
        read = max((n for h, n, _ in prefixes[: marks[-1] + 1] if h in seen), default=0)
        last_hash, last_n, last = prefixes[marks[-1]]
        write = 0 if last_hash in seen else last_n - read
        seen.update(prefixes[i][0] for i in marks)
        return CacheUsage(read=read, write=write, write_1h=write if last.breakpoint == "1h" else 0)

    def automatic(self, provider: str, model: str, segments: list[Segment], minimum: int = 1024, step: int = 1) -> int:
        """Tokens read from cache: the longest remembered boundary prefix, rounded down to ``step``
        past ``minimum``. Every boundary prefix of at least ``minimum`` tokens is remembered."""
        if sum(s.tokens for s in segments) < minimum:
            return 0  # no prefix reaches the minimum: nothing to hash, read or remember
        seen = self._seen(provider)
        bounds = [(h, n) for h, n, _ in self._hashes(model, segments) if n >= minimum]
        read = max((n for h, n in bounds if h in seen), default=0)
        seen.update(h for h, _ in bounds)
        if read < minimum:
            return 0
        return minimum + (read - minimum) // step * step


PROMPT_CACHE = web.AppKey("interlingua.prompt_cache", PromptCache)


def install(app: web.Application) -> None:
    """Give ``app`` its prompt-cache memory (each provider's add_routes calls this; once is enough)."""
    if PROMPT_CACHE not in app:
        app[PROMPT_CACHE] = PromptCache()


def prompt_cache(request: web.Request) -> PromptCache:
    return request.app[PROMPT_CACHE]

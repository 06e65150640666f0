"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

from interlingua.effects import LlmConfig
from interlingua.fakes import FakeServer


def config_for(fake: FakeServer, **settings: object) -> LlmConfig:
    """A config pointing every provider that has a fake at it, with the fake's key."""
    cfg = LlmConfig(**settings)  # type: ignore[arg-type]
    for spec in fake.specs:
        cfg = cfg.with_provider(spec.name, base_url=fake.url_for(spec.name), api_key=fake.api_key)
    return cfg


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, duplicates and out-of-range ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out

"""The vectors every fake's embeddings endpoint answers with: deterministic, unit length, float32.

Not semantic — a fake only promises what a test can rely on: the same (model, text) always gets the
same vector, different texts (or models) get different ones, and the full-size vector has unit
(Euclidean) length, as OpenAI's are ("OpenAI embeddings are normalized to length 1", OpenAI's
embeddings FAQ). A shorter vector is the first ``dims`` components of the full one — how OpenAI's
``dimensions`` and Gemini's ``outputDimensionality`` shorten (Matryoshka representation learning) —
re-normalised or not as the provider does it (:func:`vector`).

Every component is a float32 value (OpenAI sends float32s: its ``base64`` format is their
little-endian bytes), written in JSON with the fewest digits that read back as that float32
(:func:`wire_floats`), so a JSON vector and the decoded ``base64`` one are the same float32s.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import struct

__all__ = ["as_base64", "vector", "wire_floats"]


@functools.lru_cache(maxsize=1024)
def _full(model: str, text: str, size: int) -> tuple[float, ...]:
    """The unit-length ``size``-vector of (model, text), in float64."""
    seed = hashlib.sha256(model.encode() + b"\0" + text.encode()).digest()
    raw = hashlib.shake_256(seed).digest(4 * size)
    # uniform in (-1, 1): a direction spread over every component, no period, no zero component
    comps = [(n + 0.5) / 2**31 - 1.0 for n in struct.unpack(f"<{size}I", raw)]
    norm = math.sqrt(math.fsum(c * c for c in comps))
    return tuple(c / norm for c in comps)


_F32_MAX = 3.4028234663852886e38
_F32_MIN_NORMAL = 1.1754943508222875e-38


def _f32(x: float) -> float:
    """``x`` rounded to the nearest float32 (as Go's ``ParseFloat(s, 32)``: within half an ulp above
    the largest float32 is that float32, which ``struct`` refuses to pack)."""
    try:
        return float(struct.unpack("<f", struct.pack("<f", x))[0])
    except OverflowError:
        return math.copysign(_F32_MAX if abs(x) < _F32_MAX + 2.0**103 else math.inf, x)


@functools.lru_cache(maxsize=1024)
def vector(model: str, text: str, size: int, dims: int | None = None, *, renormalise: bool = True) -> tuple[float, ...]:
    """The embedding of ``text`` by ``model``: its ``size``-component vector (unit length), or its
    first ``dims`` components — re-normalised to unit length when ``renormalise`` (OpenAI's
    ``dimensions``), left as they are otherwise (Gemini's ``outputDimensionality``: "the 3072
    dimension embedding is normalized"; shorter ones are the caller's to normalise). Float32 values."""
    full = _full(model, text, size)
    cut = full if dims is None or dims >= size else full[:dims]
    if renormalise and cut is not full:
        norm = math.sqrt(math.fsum(c * c for c in cut))
        cut = tuple(c / norm for c in cut)
    return tuple(_f32(c) for c in cut)


def as_base64(values: tuple[float, ...] | list[float]) -> str:
    """``encoding_format: "base64"``: the vector's little-endian float32 bytes, base64-encoded (what the
    openai SDK decodes with ``np.frombuffer(base64.b64decode(data), dtype="float32")``)."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def _shortest(x: float) -> float:
    """The float with the fewest significant digits that is still the float32 ``x`` (how a float32 is
    printed: ``-0.0069292835``, not its float64 expansion)."""
    # a normal float32 needs at least 6 digits; a subnormal one, with fewer significant bits, may need fewer
    for digits in range(6 if abs(x) >= _F32_MIN_NORMAL else 1, 10):
        y = float(f"{x:.{digits}g}")
        if _f32(y) == x:
            return y
    return x


@functools.lru_cache(maxsize=1024)
def _wire(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(_shortest(v) for v in values)


def wire_floats(values: tuple[float, ...]) -> list[float]:
    """The vector as JSON numbers: each the shortest decimal of its float32."""
    return list(_wire(values))

"""The fakes' Go ``encoding/json`` number text (fakes/_gojson.py): what Go's ``floatEncoder`` writes for a
float64 and a float32, as properties of the text rather than a second copy of the algorithm, and the Ollama
fake's embeddings written with it."""

from __future__ import annotations

import base64
import math
import re
import struct

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from interlingua.fakes import FakeServer
from interlingua.fakes._gojson import GoFloat32s, go_float, go_json

# Go's text: an optional sign, digits with an optional fraction that never ends in 0, or one digit,
# an optional fraction and an exponent of at least one digit (e-7, e+21, never e-07).
_POSITIONAL = re.compile(r"-?(0|[1-9]\d*)(\.\d*[1-9])?")
_EXPONENT = re.compile(r"-?[1-9](\.\d*[1-9])?e[-+](\d|[1-9]\d+)")


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def _digits(text: str) -> str:
    """The significant digits of a number's text."""
    mantissa = text.lstrip("-").split("e")[0].replace(".", "")
    return mantissa.strip("0") or "0"


def _shape_holds(text: str, x: float) -> None:
    if x != 0 and not 1e-6 <= abs(x) < 1e21:
        assert _EXPONENT.fullmatch(text), text
    else:
        assert _POSITIONAL.fullmatch(text), text
    assert text.startswith("-") == (math.copysign(1.0, x) < 0)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float64_is_its_shortest_digits_in_gos_layout(x: float) -> None:
    text = go_float(x)
    assert float(text) == x
    assert _digits(text) == _digits(repr(x))  # Python's repr holds the shortest round-trip digits too
    _shape_holds(text, x)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_a_float32_is_the_fewest_digits_that_read_back_as_it(x: float) -> None:
    text = go_float(x, 32)
    assert _f32(float(text)) == x or (abs(x) == 3.4028234663852886e38 and float(text) == math.copysign(3.4028235e38, x))
    n = len(_digits(text))
    if n > 1:  # one digit fewer, correctly rounded, no longer reads back as x
        assert _f32(float(f"{x:.{n - 2}e}")) != x
    _shape_holds(text, x)


def test_go_json_writes_float32_vectors_as_go_and_everything_else_as_before() -> None:
    assert go_json({"v": [GoFloat32s([0.1, 1.0, 6.1e-05, -2.5e-07, 16777217.0]), GoFloat32s([])], "s": "<\x00>"}) == (
        b'{"v":[[0.1,1,0.000061,-2.5e-7,16777216],[]],"s":"\\u003c\\u0000\\u003e"}')
    assert go_json({"s": "\ud800", "v": GoFloat32s([0.5])}) == b'{"s":"\xef\xbf\xbd","v":[0.5]}'


@pytest.mark.parametrize("path", ["/api/embed", "/v1/embeddings"])
@pytest.mark.parametrize(("dimensions", "length"), [(0, 768), (1, 1), (64, 64), (9000, 768)])
async def test_ollama_embeddings_are_float32_text(fake: FakeServer, path: str, dimensions: int, length: int) -> None:
    """Ollama's vectors are []float32 of the model's length (``dimensions`` truncates; more than the model
    has is the whole vector, as EmbedHandler does): each number is the float32's own text (a whole
    ``1``, never ``1.0``), the same values the base64 form packs."""
    async with httpx.AsyncClient(base_url=fake.origin("ollama"), timeout=30) as http:
        body = {"model": "nomic-embed-text", "input": "a", "dimensions": dimensions}
        r = await http.post(path, json=body)
        packed = await http.post("/v1/embeddings", json={**body, "encoding_format": "base64"})
    assert r.status_code == 200
    raw = re.search(rb'"embedding[s]?":\[?\[([^\]]*)\]', r.content)
    assert raw is not None
    texts = raw[1].decode().split(",")
    floats = struct.unpack(f"<{len(texts)}f", base64.b64decode(packed.json()["data"][0]["embedding"]))
    assert len(texts) == length and [go_float(x, 32) for x in floats] == texts
    for text, x in zip(texts, floats, strict=True):
        _shape_holds(text, x)
    if length == 1:
        assert texts in (["1"], ["-1"])


def test_nesting_past_what_is_held_is_gos_max_depth_error() -> None:
    """The scanner keeps no Python recursion per level: 100,000 levels are Go's own ``exceeded max depth``
    error at the container past the limit; a value Python's json holds (400 levels) decodes as before."""
    from interlingua.fakes._gojson import GoError, decode_body

    for deep, char in ((b"[" * 100_000, "["), (b'{"a":' * 100_000, "{"), (b"[" * 600 + b"]" * 600, "[")):
        with pytest.raises(GoError, match=re.escape(f"invalid character '{char}' exceeded max depth")):
            decode_body(deep)
    held = decode_body(b"[" * 400 + b"]" * 400)
    for _ in range(399):
        held = held[0]
    assert held == []
    with pytest.raises(GoError, match=re.escape("invalid character ']' looking for beginning of value")):
        decode_body(b"[[1,]]")

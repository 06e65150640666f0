"""The fakes' structural checker: proto3 JSON's reading of numbers (Gemini's int32 and float fields)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from interlingua.fakes._shapes import check, proto_number

INT32 = st.integers(-(2**31), 2**31 - 1)


@given(INT32)
def test_an_int32_reads_back_from_every_spelling_proto3_json_accepts(n: int) -> None:
    for written in (n, float(n), str(n), json.dumps(float(n)), f"{n}e0"):
        assert proto_number(written, integral=True) == n, written
        assert check({"n": written}, {"n": int}, proto=True) is None


@given(st.integers().filter(lambda n: not -(2**31) <= n < 2**31))
def test_past_int32_is_refused_however_written(n: int) -> None:
    for written in (n, str(n)):
        assert proto_number(written, integral=True) is None
        p = check({"n": written}, {"n": int}, proto=True)
        assert p is not None and p.kind == "type" and p.path == ("n",) and p.value == written


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_reads_back_from_its_json_number_and_its_string(x: float) -> None:
    text = json.dumps(x)
    assert proto_number(x, integral=False) == x
    assert proto_number(text, integral=False) == x
    assert (proto_number(x, integral=True) is not None) == (x.is_integer() and -(2**31) <= x < 2**31)


@given(st.one_of(st.text(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2), st.floats()))
def test_proto_number_is_total_and_agrees_with_check(value: object) -> None:
    for integral, shape in ((True, int), (False, float)):
        n = proto_number(value, integral)
        assert n is None or (isinstance(n, int | float) and not isinstance(n, bool))
        assert (check(value, shape, proto=True) is None) == (n is not None)


def test_what_proto3_json_refuses() -> None:
    for written in ("", " 1", "1 ", "0x1", "1e", "+1", "01", ".5", "true", True, None, [1], {"a": 1}):
        assert proto_number(written, integral=True) is None, written
        assert proto_number(written, integral=False) is None, written
    assert proto_number("NaN", integral=True) is None and proto_number("Infinity", integral=True) is None
    assert proto_number("-Infinity", integral=False) == float("-inf")
    assert proto_number("2.5", integral=True) is None and proto_number("2.5", integral=False) == 2.5


def test_without_proto_a_string_is_not_a_number() -> None:
    assert check("2", int) is not None and check("2", float) is not None
    assert check(2.0, int) is None and check(2.5, int) is not None

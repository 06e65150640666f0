"""The fakes' prebuilt JSON encoders write exactly what ``json.dumps`` writes (the wire must not move)."""

import json

from hypothesis import given
from hypothesis import strategies as st

from interlingua.fakes._jsonenc import compact, compact_utf8, dumps, dumps_sorted

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_compact_is_json_dumps_with_compact_separators(value: object) -> None:
    """compact(x) is byte for byte json.dumps(x, separators=(",", ":")).encode(), non-ASCII escaped."""
    assert compact(value) == json.dumps(value, separators=(",", ":")).encode()


@given(_JSON)
def test_compact_utf8_is_json_dumps_without_ascii_escapes(value: object) -> None:
    """compact_utf8(x) is json.dumps(x, separators=(",", ":"), ensure_ascii=False).encode()."""
    assert compact_utf8(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@given(_JSON)
def test_dumps_is_json_dumps(value: object) -> None:
    """dumps(x) is json.dumps(x) with its default separators."""
    assert dumps(value) == json.dumps(value)


def test_unencodable_value_raises_type_error_as_json_dumps_does() -> None:
    """A value json.dumps refuses is refused with the same exception type."""
    for f in (compact, compact_utf8, dumps):
        try:
            f({"a": object()})
        except TypeError:
            continue
        raise AssertionError(f"{f.__name__} encoded an object()")


@given(_JSON)
def test_dumps_sorted_is_json_dumps_sorted_with_str_default(value: object) -> None:
    """dumps_sorted(x) is json.dumps(x, sort_keys=True, default=str): stable_id's hash input is unchanged."""
    assert dumps_sorted((value, b"bytes", 3)) == json.dumps((value, b"bytes", 3), sort_keys=True, default=str)

"""``core._result.ok`` (the hot paths' ``Success``) is ``Success`` in every way a caller can tell."""

from __future__ import annotations

import copy
import pickle

from hypothesis import given
from hypothesis import strategies as st
from returns.pipeline import is_successful
from returns.result import Failure, Success

from interlingua.core._result import ok

_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=20), st.tuples(st.integers(), st.text(max_size=5)),
                    st.lists(st.integers(), max_size=4))


@given(_VALUES)
def test_ok_is_success(value: object) -> None:
    built, made = ok(value), Success(value)
    assert type(built) is Success and isinstance(built, Success)
    assert built == made and built != Failure(value)
    assert repr(built) == repr(made) and str(built) == str(made)
    assert built.unwrap() is value and built.value_or(0) is value
    assert is_successful(built)
    assert built.map(lambda v: [v]) == made.map(lambda v: [v])
    assert built.bind(lambda v: Failure(v)) == Failure(value)
    assert pickle.loads(pickle.dumps(built)) == made
    assert copy.copy(built) == made and copy.deepcopy(built) == made
    match built:
        case Success(inner):
            assert inner is value
        case _:  # pragma: no cover
            raise AssertionError("not matched as Success")
    try:
        hashed = hash(built) == hash(made)
    except TypeError:  # an unhashable value: both refuse alike
        try:
            hash(made)
        except TypeError:
            hashed = True
        else:  # pragma: no cover
            hashed = False
    assert hashed


def test_ok_stays_immutable() -> None:
    built = ok(1)
    try:
        built._inner_value = 2  # type: ignore[misc]
    except AttributeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("ok() built a mutable container")
    assert built.unwrap() == 1

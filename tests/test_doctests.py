"""Every ``>>>`` example in the package runs (the docstrings are documentation that cannot rot)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import interlingua.core
import interlingua.effects
import interlingua.fakes


def _modules() -> list[str]:
    names = []
    for pkg in (interlingua.core, interlingua.effects, interlingua.fakes):
        names.append(pkg.__name__)
        names.extend(m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."))
    return sorted(n for n in names if not n.endswith("pytest_plugin"))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    """The module's examples produce exactly what they show."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

"""interlingua.fakes — offline servers that speak each provider's real wire format.

>>> import asyncio
>>> async def demo():                                    # doctest: +SKIP
...     async with serve() as fake:
...         print(fake.url_for("openai"))               # http://127.0.0.1:PORT/v1

Every provider's fake is its own aiohttp application on its own port (one origin per provider, as the
real services are separate hosts): ``fake.url_for(provider)`` is the base URL its SDK wants,
``fake.origin(provider)`` the bare root, ``fake.base_url`` the OpenAI origin. One shared state records
every request and holds the queued faults (``fake.fail_next(provider, "429", endpoint="chat")``) and
scripted answers.

The names below load on first use (PEP 562): the pytest plugin lives in this package and pytest
imports it in every run of every project that has interlingua installed, so importing the package
must not import aiohttp, the tokenizer and eight fakes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._faults import FAULT_HEADER, Fault, parse_fault
    from ._server import (
        DEFAULT_API_KEY,
        FakeServer,
        FakeSpec,
        FakeState,
        RecordedRequest,
        build_app,
        serve,
        serve_in_thread,
    )

    SPECS: tuple[FakeSpec, ...]

__all__ = [
    "DEFAULT_API_KEY",
    "FAULT_HEADER",
    "SPECS",
    "FakeServer",
    "FakeSpec",
    "FakeState",
    "Fault",
    "RecordedRequest",
    "build_app",
    "parse_fault",
    "serve",
    "serve_in_thread",
]

_FROM: dict[str, str] = {
    "FAULT_HEADER": "._faults",
    "Fault": "._faults",
    "parse_fault": "._faults",
    "DEFAULT_API_KEY": "._server",
    "FakeServer": "._server",
    "FakeSpec": "._server",
    "FakeState": "._server",
    "RecordedRequest": "._server",
    "build_app": "._server",
    "serve": "._server",
    "serve_in_thread": "._server",
}

# Every provider's fake, in one table (module names; each module has a SPEC); serve() gives each its
# own application and port, in this order.
_SPEC_MODULES: tuple[str, ...] = ("openai", "azure", "xai", "docker", "ollama", "bedrock", "anthropic", "gemini")


def __getattr__(name: str) -> Any:
    if name == "SPECS":
        value: Any = tuple(importlib.import_module(f".{m}", __name__).SPEC for m in _SPEC_MODULES)
    elif name in _FROM:
        value = getattr(importlib.import_module(_FROM[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

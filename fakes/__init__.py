"""interlingua.fakes — offline servers that speak each provider's real wire format.

>>> import asyncio
>>> async def demo():                                    # doctest: +SKIP
...     async with serve() as fake:
...         print(fake.url_for("openai"))               # http://127.0.0.1:PORT/v1
"""

from . import gemini as _gemini
from . import openai as _openai
from ._faults import FAULT_HEADER, Fault, parse_fault
from ._server import DEFAULT_API_KEY, FakeServer, FakeSpec, FakeState, RecordedRequest, build_app, serve

# Every provider's fake, in one table; all share one application and port.
SPECS: tuple[FakeSpec, ...] = (_openai.SPEC, _gemini.SPEC)

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
]

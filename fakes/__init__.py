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
"""

from . import anthropic as _anthropic
from . import azure as _azure
from . import bedrock as _bedrock
from . import docker as _docker
from . import gemini as _gemini
from . import ollama as _ollama
from . import openai as _openai
from . import xai as _xai
from ._faults import FAULT_HEADER, Fault, parse_fault
from ._server import DEFAULT_API_KEY, FakeServer, FakeSpec, FakeState, RecordedRequest, build_app, serve

# Every provider's fake, in one table; serve() gives each its own application and port, in this order.
SPECS: tuple[FakeSpec, ...] = (_openai.SPEC, _azure.SPEC, _xai.SPEC, _docker.SPEC, _ollama.SPEC, _bedrock.SPEC, _anthropic.SPEC, _gemini.SPEC)

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

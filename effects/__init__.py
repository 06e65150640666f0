"""interlingua.effects — the thin I/O layer: aiohttp transport, config from the environment, the client.

Every public call returns a ``returns`` ``Result``; no exception crosses this API for an expected
failure.
"""

from returns.result import Failure, Result, Success

from .client import Client, Env
from .config import ENV, PROVIDER_ENV, LlmConfig
from .transport import AiohttpTransport, Timeouts, Transport, map_exception

__all__ = [
    "ENV",
    "PROVIDER_ENV",
    "AiohttpTransport",
    "Client",
    "Env",
    "Failure",
    "LlmConfig",
    "Result",
    "Success",
    "Timeouts",
    "Transport",
    "map_exception",
]

"""interlingua.effects — the thin I/O layer: aiohttp transport, config from the environment, the client.

Every public call returns a ``returns`` ``Result``; no exception crosses this API for an expected
failure.
"""

from returns.result import Failure, Result, Success

from .client import Client, Env, ResponseCache
from .config import ENV, PROVIDER_ENV, LlmConfig
from .observe import CallInfo, CallTrace, Observer
from .store import FailPolicy, LocalStore, Store
from .telemetry import TelemetrySettings
from .transport import AiohttpTransport, Timeouts, Transport, map_exception

__all__ = [
    "ENV",
    "PROVIDER_ENV",
    "AiohttpTransport",
    "CallInfo",
    "CallTrace",
    "Client",
    "Env",
    "FailPolicy",
    "Failure",
    "LlmConfig",
    "LocalStore",
    "Observer",
    "RedisStore",
    "ResponseCache",
    "Result",
    "Store",
    "Success",
    "TelemetrySettings",
    "Timeouts",
    "Transport",
    "map_exception",
]


def __getattr__(name: str) -> object:
    # RedisStore imports redis-py (the ``redis`` extra): only when asked for.
    if name == "RedisStore":
        from .redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

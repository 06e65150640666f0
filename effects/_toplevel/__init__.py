"""interlingua — one typed client for every LLM provider, with offline fakes.

The code lives in three packages: :mod:`interlingua.core` (pure), :mod:`interlingua.effects`
(aiohttp, config, the client) and :mod:`interlingua.fakes` (fake provider servers). This module
only carries the version, read from the installed distribution's metadata.

>>> import interlingua
>>> isinstance(interlingua.__version__, str)
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("interlingua")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]

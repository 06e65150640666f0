"""``interlingua tokens MODEL [FILE|-]`` and ``interlingua models [--provider P]``.

``tokens`` reads a prompt (plain text) or a JSON list of messages (``[{"role": "user", "content": "…"}]``)
and prints the offline count and whether it is exact. ``models`` prints the catalog as a table.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from typing import Any

import msgspec

from interlingua.core import Message
from interlingua.core.catalog import default_catalog
from interlingua.core.schema import ModelInfo
from interlingua.core.tokens import count_tokens

__all__ = ["register"]


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 2


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    with open(source, encoding="utf-8") as f:
        return f.read()


def _tokens(args: argparse.Namespace) -> int:
    try:
        text = _read(args.file)
    except (OSError, UnicodeDecodeError) as e:
        return _fail(f"cannot read {args.file}: {e}")
    messages: list[Message] | str = text
    if text.lstrip().startswith("["):
        try:
            messages = msgspec.json.decode(text.encode(), type=list[Message])
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            return _fail(f"not a JSON list of messages: {e}")
    c = count_tokens(args.model, messages)
    how = f"exact, {c.encoding}" if c.exact else "estimate"
    sys.stdout.write(f"{c.count} tokens ({how})\n")
    return 0


def _price(p: Decimal | None) -> str:
    return "-" if p is None else f"{p:f}"


def _caps(m: ModelInfo) -> str:
    flags = (("tools", m.supports_tools), ("vision", m.supports_vision), ("json", m.supports_structured_output),
             ("reasoning", m.supports_reasoning))
    return ",".join(name for name, on in flags if on)


def _models(args: argparse.Namespace) -> int:
    rows = default_catalog().for_provider(args.provider)
    if not rows:
        return _fail(f"no models for provider {args.provider!r} in the catalog")
    table = [("ID", "PROVIDER", "CONTEXT", "MAX OUT", "$/1M IN", "$/1M OUT", "CAPABILITIES")]
    for m in rows:
        table.append((m.id, m.provider, f"{m.context_window:,}" if m.context_window else "-",
                      f"{m.max_output_tokens:,}" if m.max_output_tokens else "-",
                      _price(m.input_price), _price(m.output_price), _caps(m)))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    right = {2, 3, 4, 5}
    for r in table:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")
    as_of = next((m.prices_as_of for m in rows if m.prices_as_of), None)
    if as_of:
        sys.stdout.write(f"\nprices as of {as_of}, USD per 1M tokens; verify with the provider before relying on them\n")
    return 0


def register(sub: Any) -> None:
    t = sub.add_parser("tokens", help="count a prompt's tokens offline")
    t.add_argument("model", help="e.g. openai:gpt-4o, claude-sonnet-4-5")
    t.add_argument("file", nargs="?", default="-", help="a text file or a JSON list of messages; - (default) reads stdin")
    t.set_defaults(handler=_tokens)
    m = sub.add_parser("models", help="list the model catalog")
    m.add_argument("--provider", help="only this provider (openai, anthropic, gemini, xai, bedrock, ollama, docker)")
    m.set_defaults(handler=_models)

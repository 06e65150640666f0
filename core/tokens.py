"""Offline tiktoken encodings, built from the rank files vendored in ``interlingua.core/data``.

tiktoken normally downloads its BPE files on first use; here they ship as package data (see
``data/TIKTOKEN_PROVENANCE.md``) and are verified against the SHA-256 that tiktoken itself expects
before use. Reading our own package data is the one read core does, done once per encoding.

>>> enc = get_encoding("o200k_base")
>>> enc.encode("hello world")
[24912, 2375]
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from importlib import resources

import tiktoken

__all__ = ["ENCODINGS", "encoding_for_model", "get_encoding"]

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

# name -> (file, sha256 of the decompressed file, pat_str, special tokens), as tiktoken_ext/openai_public.py.
ENCODINGS: dict[str, tuple[str, str, str, dict[str, int]]] = {
    "cl100k_base": (
        "cl100k_base.tiktoken.gz",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        {_ENDOFTEXT: 100257, _FIM_PREFIX: 100258, _FIM_MIDDLE: 100259, _FIM_SUFFIX: 100260, _ENDOFPROMPT: 100276},
    ),
    "o200k_base": (
        "o200k_base.tiktoken.gz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}


class CorruptRankFile(RuntimeError):
    """The vendored rank file does not match tiktoken's expected hash: the package is damaged."""


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    import base64

    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if not line:
            continue
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, built offline; raises ``KeyError`` for an encoding we do not ship."""
    file, expected, pat_str, special = ENCODINGS[name]
    raw = gzip.decompress(resources.files(__package__).joinpath("data", file).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise CorruptRankFile(f"{file}: sha256 {digest} != expected {expected}")
    return tiktoken.Encoding(name=name, pat_str=pat_str, mergeable_ranks=_parse_ranks(raw), special_tokens=special)


# Longest prefix wins; everything newer than GPT-4 Turbo uses o200k_base.
_MODEL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada", "cl100k_base"),
)


def encoding_for_model(model: str) -> str | None:
    """The encoding name an OpenAI model uses, or ``None`` when it is not an OpenAI model.

    >>> encoding_for_model("gpt-4o-mini-2024-07-18"), encoding_for_model("gpt-4-0613"), encoding_for_model("llama3")
    ('o200k_base', 'cl100k_base', None)
    """
    best: tuple[int, str] | None = None
    for prefix, enc in _MODEL_PREFIXES:
        if model.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), enc)
    return best[1] if best else None

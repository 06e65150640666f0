"""The model catalog: coverage of every provider, alias/snapshot resolution, user overrides."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from interlingua.core import ErrorKind, ModelInfo
from interlingua.core.catalog import default_catalog, parse_catalog
from interlingua.effects.catalog import load_catalog
from interlingua.effects.cli import main

CAT = default_catalog()


@pytest.mark.parametrize(
    ("model", "expected_id"),
    [
        ("openai:gpt-4o-2024-11-20", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("o3", "o3"), ("o3-mini", "o3-mini"), ("o4-mini-2025-04-16", "o4-mini"),
        ("gpt-5", "gpt-5"), ("gpt-5-mini", "gpt-5-mini"), ("gpt-5-nano", "gpt-5-nano"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"), ("anthropic:claude-haiku-4-5", "claude-haiku-4-5"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest"), ("claude-3-haiku-20240307", "claude-3-haiku-20240307"),
        ("gemini-2.5-pro", "gemini-2.5-pro"), ("google:gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("grok-4-0709", "grok-4"), ("xai:grok-3-mini", "grok-3-mini"),
        ("bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"), ("meta.llama3-3-70b-instruct-v1:0", "meta.llama3-3-70b-instruct-v1:0"),
        ("amazon.titan-text-express-v1", "amazon.titan-text-express-v1"),
        ("ollama:llama3.2:3b", "llama3.2"), ("qwen2.5:latest", "qwen2.5"),
    ],
)
def test_current_models_and_their_snapshots_resolve(model: str, expected_id: str) -> None:
    """Ids, aliases and dated snapshots of every provider's current models resolve to one entry."""
    info = CAT.resolve(model)
    assert info is not None and info.id == expected_id


def test_every_entry_is_complete_and_unique() -> None:
    """Each entry has a window, Decimal prices (input and output together) and the price date; ids are unique."""
    keys = [(m.provider, m.id) for m in CAT.models]
    assert len(keys) == len(set(keys))
    for m in CAT.models:
        assert m.context_window and m.prices_as_of
        assert (m.input_price is None) == (m.output_price is None)
        assert all(isinstance(p, Decimal) for p in (m.input_price, m.output_price, m.cached_input_price) if p is not None)
    assert {m.provider for m in CAT.models} >= {"openai", "anthropic", "gemini", "xai", "bedrock", "ollama"}
    assert all(m.input_price == 0 for m in CAT.for_provider("ollama"))


def test_prices_decode_exactly() -> None:
    """Prices are decimal strings in the file and exact Decimals in memory (no float rounding)."""
    assert CAT.lookup("openai", "gpt-4o-mini").cached_input_price == Decimal("0.075")  # type: ignore[union-attr]
    assert CAT.lookup("anthropic", "claude-sonnet-4-5").cache_write_price == Decimal("3.75")  # type: ignore[union-attr]


def test_unknown_models_have_no_info() -> None:
    """An unknown model is not an error and has no price (so its cost is unknown, not zero)."""
    assert CAT.lookup("openai", "gpt-99") is None and CAT.resolve("not a model") is None


def test_merged_overrides_and_extends() -> None:
    """User entries replace same-(provider, id) entries and add new ones; the rest is untouched."""
    cheaper = ModelInfo(id="gpt-4o", provider="openai", input_price=Decimal("1"), output_price=Decimal("2"), aliases=("gpt-4o-2024-08-06",))
    own = ModelInfo(id="my-ft", provider="openai", context_window=1000)
    merged = CAT.merged([cheaper, own])
    assert merged.resolve("gpt-4o-2024-08-06").input_price == Decimal("1")  # type: ignore[union-attr]
    assert merged.lookup("openai", "my-ft") == own
    assert len(merged) == len(CAT) + 1 and merged.lookup("openai", "gpt-4o-mini") == CAT.lookup("openai", "gpt-4o-mini")


def test_load_catalog_from_a_file(tmp_path: Path) -> None:
    """A user file in the shipped format extends the catalog; a bad file is a Failure, not an exception."""
    good = tmp_path / "models.json"
    good.write_text('{"prices_as_of": "2026-01-01", "models": [{"id": "local-x", "provider": "ollama", "input_price": "0", "output_price": "0"}]}')
    cat = load_catalog(good).unwrap()
    assert cat.lookup("ollama", "local-x").prices_as_of == "2026-01-01"  # type: ignore[union-attr]
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": [{"id": 1}]}')
    for path in (bad, tmp_path / "missing.json"):
        err = load_catalog(path).failure()
        assert err.kind is ErrorKind.INVALID_REQUEST and f"cannot load model catalog {str(path)!r}" in err.message
    with pytest.raises(Exception):  # noqa: B017 - our own file format: parse_catalog raises on bad input
        parse_catalog(b"[")


def test_models_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """`interlingua models --provider openai` prints one row per model with prices."""
    assert main(["models", "--provider", "openai"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["ID", "PROVIDER"] and "gpt-4o-mini" in out and "0.15" in out


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Unknown provider and unreadable file: one line on stderr, non-zero exit."""
    assert main(["models", "--provider", "nope"]) != 0
    assert main(["tokens", "gpt-4o", str(tmp_path / "missing.txt")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)


def test_tokens_command_counts_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`interlingua tokens MODEL FILE` prints the count and whether it is exact."""
    f = tmp_path / "p.json"
    f.write_text('[{"role": "user", "content": "tiktoken is great!"}]')
    assert main(["tokens", "gpt-4o-mini", str(f)]) == 0
    assert capsys.readouterr().out == "13 tokens (exact, o200k_base)\n"

"""Python calls per stream chunk, interlingua against the hand-written floor, over canned bytes.

Call counts are exact and do not depend on the machine's load, so unlike timings they can be
asserted. Issue 19's passes took the path from 2.33x-3.80x the floor to 1.08x-1.40x (session 3:
one-event reads take a fast path in each splitter and dialect fold; Bedrock and the Responses API
counted too). These budgets sit just above today's figures: a change that adds calls per chunk fails here.

Per request (one non-stream ``chat``), issue 19's per-request pass took the canned path from
226-242 calls (22.6x-30.3x the floor) to 135-152 (13.5x-17.0x), the second to 127-144 (12.7x-16.0x);
``REQUEST_BUDGET`` sits just above.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from benchmarks import callcount

BUDGET = {"openai": 1.12, "anthropic": 1.1, "gemini": 1.09, "ollama": 1.4, "bedrock": 1.16, "openai_responses": 1.2}
REQUEST_BUDGET = {"openai": 13.0, "anthropic": 14.0, "gemini": 16.3, "ollama": 13.4, "bedrock": 15.5, "openai_responses": 13.0}

Rows = list[tuple[str, str, int, float]]


@pytest.fixture(scope="module")
def rows() -> Rows:
    if sys.getprofile() is not None:
        pytest.skip("another profiler is active")
    return asyncio.run(callcount._table())


def test_calls_per_chunk_stay_within_budget_of_the_floor(rows: Rows) -> None:
    """Each provider's marginal calls per chunk stay within its budget times the floor's, and are whole."""
    floor = {p: chunk for p, who, _, chunk in rows if who == "floor"}
    mine = {p: chunk for p, who, _, chunk in rows if who == "interlingua"}
    assert set(mine) == set(BUDGET) == set(floor)
    for provider, chunk in mine.items():
        assert chunk == int(chunk), (provider, chunk)  # one event per read: the same calls every chunk
        assert chunk <= BUDGET[provider] * floor[provider], (provider, chunk, floor[provider])


def test_calls_per_request_stay_within_budget_of_the_floor(rows: Rows) -> None:
    """Each provider's calls for one non-stream chat stay within its budget times the floor's."""
    floor = {p: req for p, who, req, _ in rows if who == "floor"}
    mine = {p: req for p, who, req, _ in rows if who == "interlingua"}
    assert set(mine) == set(REQUEST_BUDGET) == set(floor)
    for provider, calls in mine.items():
        assert calls <= REQUEST_BUDGET[provider] * floor[provider], (provider, calls, floor[provider])

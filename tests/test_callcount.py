"""Python calls per stream chunk, interlingua against the hand-written floor, over canned bytes.

Call counts are exact and do not depend on the machine's load, so unlike timings they can be
asserted. Issue 19's passes took the path from 2.33x-3.80x the floor to 1.08x-1.40x (session 3:
one-event reads take a fast path in each splitter and dialect fold; Bedrock and the Responses API
counted too). These budgets sit just above today's figures: a change that adds calls per chunk fails here.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from benchmarks import callcount

BUDGET = {"openai": 1.12, "anthropic": 1.1, "gemini": 1.09, "ollama": 1.4, "bedrock": 1.16, "openai_responses": 1.2}


@pytest.mark.skipif(sys.getprofile() is not None, reason="another profiler is active")
def test_calls_per_chunk_stay_within_budget_of_the_floor() -> None:
    """Each provider's marginal calls per chunk stay within its budget times the floor's, and are whole."""
    rows = asyncio.run(callcount._table())
    floor = {p: chunk for p, who, _, chunk in rows if who == "floor"}
    mine = {p: chunk for p, who, _, chunk in rows if who == "interlingua"}
    assert set(mine) == set(BUDGET) == set(floor)
    for provider, chunk in mine.items():
        assert chunk == int(chunk), (provider, chunk)  # one event per read: the same calls every chunk
        assert chunk <= BUDGET[provider] * floor[provider], (provider, chunk, floor[provider])

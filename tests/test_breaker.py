"""The pure circuit breaker: the transition table, scripted scenarios, and state-machine invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from interlingua.core.breaker import (
    TRANSITIONS,
    BreakerPolicy,
    BreakerState,
    Phase,
    Signal,
    reopens_at,
    step,
)
from interlingua.effects.breakers import REJECTED, Breakers


def test_every_phase_and_signal_has_exactly_one_rule() -> None:
    """The table is total: no (phase, signal) pair falls through to an implicit default."""
    assert set(TRANSITIONS) == {(p, s) for p in Phase for s in Signal}


def run(policy: BreakerPolicy, script: list[tuple[str, float]]) -> list[str]:
    """Play ``(action, now)`` pairs — req / ok / fail / cancel — reporting each outcome with the
    generation of the latest admission; returns the phase (and admission) after each step."""
    s, gen, out = BreakerState(), 0, []
    for action, now in script:
        if action == "req":
            r = step(policy, s, Signal.REQUEST, now)
            s = r.state
            if r.admitted:
                gen = s.generation
            out.append(f"{s.phase.value}{'' if r.admitted else '!'}")
            continue
        signal = {"ok": Signal.SUCCESS, "fail": Signal.FAILURE, "cancel": Signal.CANCEL}[action]
        s = step(policy, s, signal, now, gen).state
        out.append(s.phase.value)
    return out


P = BreakerPolicy(threshold=3, cooldown=10.0, probes=1)
SCENARIOS = [
    # consecutive failures open it; a success in between resets the count
    (P, [("fail", 0), ("fail", 1), ("ok", 2), ("fail", 3), ("fail", 4), ("fail", 5)],
     ["closed", "closed", "closed", "closed", "closed", "open"]),
    # open rejects until the cooldown, then one probe; the probe's success closes it
    (P, [("fail", 0), ("fail", 0), ("fail", 0), ("req", 9.9), ("req", 10), ("req", 10.5), ("ok", 11), ("req", 11)],
     ["closed", "closed", "open", "open!", "half_open", "half_open!", "closed", "closed"]),
    # a failed probe re-opens it, and the cooldown starts again from that failure
    (P, [("fail", 0), ("fail", 0), ("fail", 0), ("req", 10), ("fail", 12), ("req", 21), ("req", 22)],
     ["closed", "closed", "open", "half_open", "open", "open!", "half_open"]),
    # a cancelled probe gives its slot back
    (P, [("fail", 0), ("fail", 0), ("fail", 0), ("req", 10), ("cancel", 10), ("req", 10)],
     ["closed", "closed", "open", "half_open", "half_open", "half_open"]),
    # K = 2 probes
    (BreakerPolicy(threshold=1, cooldown=1.0, probes=2), [("fail", 0), ("req", 1), ("req", 1), ("req", 1)],
     ["open", "half_open", "half_open", "half_open!"]),
    # failure ratio: 2 of the last 4 outcomes failed (threshold never reached)
    (BreakerPolicy(threshold=10, window=4, failure_ratio=0.5), [("fail", 0), ("ok", 0), ("fail", 0), ("ok", 0)],
     ["closed", "closed", "closed", "closed"]),
    (BreakerPolicy(threshold=10, window=4, failure_ratio=0.5), [("ok", 0), ("fail", 0), ("ok", 0), ("fail", 0)],
     ["closed", "closed", "closed", "open"]),
]


@pytest.mark.parametrize(("policy", "script", "phases"), SCENARIOS)
def test_scripted_scenarios(policy: BreakerPolicy, script: list[tuple[str, float]], phases: list[str]) -> None:
    """Each scripted sequence of requests and outcomes passes through exactly these phases."""
    assert run(policy, script) == phases


def test_stale_outcomes_are_ignored() -> None:
    """A request admitted before the circuit opened cannot close it, nor count as a probe."""
    policy = BreakerPolicy(threshold=1, cooldown=5.0)
    slow = step(policy, BreakerState(), Signal.REQUEST, 0.0)
    opened = step(policy, slow.state, Signal.FAILURE, 1.0, generation=slow.state.generation).state
    assert opened.phase is Phase.OPEN
    assert step(policy, opened, Signal.SUCCESS, 2.0, generation=slow.state.generation).state is opened
    probe = step(policy, opened, Signal.REQUEST, 6.0).state
    assert step(policy, probe, Signal.SUCCESS, 7.0, generation=slow.state.generation).state is probe


def test_success_on_a_healthy_circuit_allocates_nothing() -> None:
    """The happy path returns the very same state object (no per-request allocation)."""
    s = BreakerState()
    assert step(BreakerPolicy(), s, Signal.REQUEST, 0.0).state is s
    assert step(BreakerPolicy(), s, Signal.SUCCESS, 0.0, generation=0).state is s


class BreakerMachine(RuleBasedStateMachine):
    """Random interleavings of requests, outcomes, cancellations and time never break the invariants."""

    @initialize(
        threshold=st.integers(1, 4),
        probes=st.integers(1, 3),
        window=st.sampled_from([0, 0, 3, 5]),
        ratio=st.sampled_from([0.3, 0.5, 1.0]),
    )
    def setup(self, threshold: int, probes: int, window: int, ratio: float) -> None:
        self.policy = BreakerPolicy(threshold=threshold, cooldown=5.0, probes=probes, window=window, failure_ratio=ratio)
        self.state = BreakerState()
        self.now = 0.0
        self.in_flight: list[int] = []  # generations of admitted requests without an outcome yet
        self.last_generation = 0

    def _apply(self, signal: Signal, generation: int | None = None) -> bool:
        before = self.state
        r = step(self.policy, before, signal, self.now, generation)
        self.state = r.state
        assert r.state.generation >= before.generation
        if r.state.phase is not before.phase:
            assert r.state.generation == before.generation + 1, "every phase change starts a new generation"
        return r.admitted

    @rule(dt=st.sampled_from([0.0, 0.5, 2.0, 5.0, 7.5]))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule()
    def request(self) -> None:
        before = self.state
        admitted = self._apply(Signal.REQUEST)
        if before.phase is Phase.OPEN:
            assert admitted == (self.now >= reopens_at(self.policy, before))
        if before.phase is Phase.CLOSED:
            assert admitted and self.state is before
        if admitted:
            self.in_flight.append(self.state.generation)

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), outcome=st.sampled_from([Signal.SUCCESS, Signal.FAILURE, Signal.CANCEL]))
    def finish(self, data: st.DataObject, outcome: Signal) -> None:
        i = data.draw(st.integers(0, len(self.in_flight) - 1))
        gen = self.in_flight.pop(i)
        before = self.state
        self._apply(outcome, gen)
        if gen != before.generation:
            assert self.state is before, "stale outcomes change nothing"
        elif before.phase is Phase.HALF_OPEN and outcome is Signal.SUCCESS:
            assert self.state.phase is Phase.CLOSED and self.state.failures == 0
        elif before.phase is Phase.HALF_OPEN and outcome is Signal.FAILURE:
            assert self.state.phase is Phase.OPEN and self.state.opened_at == self.now
        elif before.phase is Phase.CLOSED and outcome is Signal.FAILURE and before.failures + 1 >= self.policy.threshold:
            assert self.state.phase is Phase.OPEN

    @invariant()
    def probes_are_bounded_and_counted(self) -> None:
        s = getattr(self, "state", None)
        if s is None:
            return
        assert 0 <= s.probes <= self.policy.probes
        if s.phase is Phase.HALF_OPEN:
            assert s.probes == sum(1 for g in self.in_flight if g == s.generation)
        else:
            assert s.probes == 0

    @invariant()
    def closed_means_below_threshold(self) -> None:
        s = getattr(self, "state", None)
        if s is not None and s.phase is Phase.CLOSED:
            assert s.failures < self.policy.threshold
            assert 0 <= s.seen <= self.policy.window and 0 <= s.outcomes < 2 ** max(self.policy.window, 0) + (self.policy.window == 0)


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@settings(max_examples=300, deadline=None)
@given(
    st.builds(BreakerState, phase=st.sampled_from(list(Phase)), generation=st.integers(0, 3), failures=st.integers(0, 6),
              outcomes=st.integers(0, 7), seen=st.integers(0, 3), opened_at=st.floats(0, 100), probes=st.integers(0, 2)),
    st.sampled_from([BreakerPolicy(), BreakerPolicy(window=3), BreakerPolicy(threshold=1, probes=2)]),
    st.sampled_from(list(Signal)),
    st.integers(0, 3),
    st.floats(0, 200),
)
def test_breakers_shortcuts_change_what_step_changes(
    state: BreakerState, policy: BreakerPolicy, signal: Signal, generation: int, now: float
) -> None:
    """Breakers.admit/report (with their healthy-circuit shortcuts) leave the state and answer exactly as core step does."""
    changes: list[tuple[str, Phase, Phase]] = []
    b = Breakers(policy)
    b._states["k"] = state
    expected = step(policy, state, signal, now, None if signal is Signal.REQUEST else generation)
    if signal is Signal.REQUEST:
        got = b.admit("k", now, lambda *c: changes.append(c))
        assert got == (expected.state.generation if expected.admitted else REJECTED)
    else:
        b.report("k", generation, signal, now, lambda *c: changes.append(c))
    assert b.get("k") == expected.state
    assert changes == ([] if expected.state.phase is state.phase else [("k", state.phase, expected.state.phase)])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([BreakerPolicy(), BreakerPolicy(window=3), BreakerPolicy(threshold=1, probes=2)]),
    st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(list(Signal)), st.floats(0, 100)), max_size=12),
)
def test_an_idle_store_is_one_whose_admit_and_success_change_nothing(
    policy: BreakerPolicy, ops: list[tuple[str, Signal, float]]
) -> None:
    """``Breakers.idle`` (which lets the client skip ``admit`` and a successful ``report``) holds exactly
    while no circuit has state and the policy keeps no sliding window, and while it holds, ``admit``
    answers ``CLOSED``'s generation and ``report(SUCCESS)`` changes nothing, as the skipped calls would."""
    b = Breakers(policy)
    noop = lambda *c: None  # noqa: E731
    generation = 0
    for key, signal, now in ops:
        assert b.idle == (policy.window <= 0 and len(b) == 0)
        if b.idle:
            for k in ("a", "b"):
                assert b.admit(k, now, noop) == BreakerState().generation
                b.report(k, generation, Signal.SUCCESS, now, noop)
            assert b.idle and len(b) == 0
        if signal is Signal.REQUEST:
            g = b.admit(key, now, noop)
            generation = g if g != REJECTED else generation
        else:
            b.report(key, generation, signal, now, noop)
    assert b.idle == (policy.window <= 0 and len(b) == 0)

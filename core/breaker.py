"""A circuit breaker as a pure state machine: every transition lives in :data:`TRANSITIONS`.

Like h11's ``_state.py`` ("Rule 1: everything that affects the state machine and state
transitions must live in this file"), the breaker is one table from ``(phase, signal)`` to a small
function of ``(policy, state, now)``. The client keeps one :class:`BreakerState` per provider (or
per provider+model) on its own instance and threads it through :func:`step`.

Phases::

    CLOSED ──(threshold consecutive failures, or failure ratio over the window)──▶ OPEN
    OPEN ──(a request after ``cooldown`` seconds)──▶ HALF_OPEN  (that request is the first probe)
    HALF_OPEN ──(a probe succeeds)──▶ CLOSED
    HALF_OPEN ──(a probe fails)──▶ OPEN  (cooldown starts again)

Signals: ``REQUEST`` asks to send (the answer is :attr:`Step.admitted`); ``SUCCESS`` and ``FAILURE``
report an outcome (only *retryable* failures are failures: a 400 proves the provider is up);
``CANCEL`` gives back an admission whose outcome will never come (a cancelled task, an abandoned
stream), so a half-open probe slot is never leaked.

Every admission carries the state's ``generation``; an outcome reported with an older generation
(a request admitted before the breaker last changed phase) is ignored. A slow request sent while
CLOSED therefore cannot close a circuit that opened meanwhile, nor count as a probe.

>>> policy = BreakerPolicy(threshold=2, cooldown=10.0)
>>> s = BreakerState()
>>> s = step(policy, s, Signal.FAILURE, now=0.0, generation=0).state
>>> s = step(policy, s, Signal.FAILURE, now=1.0, generation=0).state
>>> s.phase, s.opened_at
(<Phase.OPEN: 'open'>, 1.0)
>>> step(policy, s, Signal.REQUEST, now=5.0).admitted
False
>>> probe = step(policy, s, Signal.REQUEST, now=11.0)
>>> probe.admitted, probe.state.phase
(True, <Phase.HALF_OPEN: 'half_open'>)
>>> step(policy, probe.state, Signal.SUCCESS, now=12.0, generation=probe.state.generation).state.phase
<Phase.CLOSED: 'closed'>
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import msgspec

__all__ = [
    "TRANSITIONS",
    "BreakerPolicy",
    "BreakerState",
    "Phase",
    "Signal",
    "Step",
    "reopens_at",
    "step",
]


class Phase(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Signal(enum.StrEnum):
    REQUEST = "request"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCEL = "cancel"


class BreakerPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """``threshold`` consecutive failures open the circuit; so does a failure ratio of at least
    ``failure_ratio`` over the last ``window`` outcomes (once ``window`` outcomes are known;
    ``window=0`` turns the ratio rule off). ``cooldown`` seconds later ``probes`` requests may test
    the provider."""

    threshold: int = 5
    cooldown: float = 30.0
    probes: int = 1
    window: int = 0
    failure_ratio: float = 0.5


class BreakerState(msgspec.Struct, frozen=True, kw_only=True):
    """``failures`` counts consecutive failures while CLOSED; ``outcomes`` is a bit-window of the
    last ``seen`` outcomes (1 = failure, newest in bit 0); ``probes`` is how many half-open probes
    are in flight."""

    phase: Phase = Phase.CLOSED
    generation: int = 0
    failures: int = 0
    outcomes: int = 0
    seen: int = 0
    opened_at: float = 0.0
    probes: int = 0


class Step(msgspec.Struct, frozen=True):
    state: BreakerState
    admitted: bool = True


def reopens_at(policy: BreakerPolicy, state: BreakerState) -> float:
    """When an OPEN circuit lets its first probe through (same clock as ``now``)."""
    return state.opened_at + policy.cooldown


# -- the transitions -----------------------------------------------------------------------------

Rule = Callable[[BreakerPolicy, BreakerState, float], Step]


def _stay(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    return Step(s)


def _open(s: BreakerState, now: float) -> BreakerState:
    return BreakerState(phase=Phase.OPEN, generation=s.generation + 1, opened_at=now, failures=s.failures)


def _closed_success(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    if policy.window <= 0:
        # The common case allocates nothing: a success on a healthy circuit changes nothing.
        return Step(s) if s.failures == 0 else Step(msgspec.structs.replace(s, failures=0))
    outcomes, seen = _push(policy, s, 0)
    return Step(msgspec.structs.replace(s, failures=0, outcomes=outcomes, seen=seen))


def _closed_failure(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    failures = s.failures + 1
    outcomes, seen = _push(policy, s, 1) if policy.window > 0 else (0, 0)
    tripped = failures >= policy.threshold or (
        policy.window > 0 and seen >= policy.window and outcomes.bit_count() >= policy.failure_ratio * seen
    )
    if tripped:
        return Step(_open(msgspec.structs.replace(s, failures=failures), now))
    return Step(msgspec.structs.replace(s, failures=failures, outcomes=outcomes, seen=seen))


def _open_request(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    if now < s.opened_at + policy.cooldown:
        return Step(s, admitted=False)
    return Step(
        BreakerState(phase=Phase.HALF_OPEN, generation=s.generation + 1, opened_at=s.opened_at, failures=s.failures, probes=1)
    )


def _half_open_request(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    if s.probes >= policy.probes:
        return Step(s, admitted=False)
    return Step(msgspec.structs.replace(s, probes=s.probes + 1))


def _half_open_success(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    return Step(BreakerState(phase=Phase.CLOSED, generation=s.generation + 1))


def _half_open_failure(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    return Step(_open(s, now))


def _half_open_cancel(policy: BreakerPolicy, s: BreakerState, now: float) -> Step:
    return Step(msgspec.structs.replace(s, probes=max(0, s.probes - 1)))


TRANSITIONS: Mapping[tuple[Phase, Signal], Rule] = {
    (Phase.CLOSED, Signal.REQUEST): _stay,
    (Phase.CLOSED, Signal.SUCCESS): _closed_success,
    (Phase.CLOSED, Signal.FAILURE): _closed_failure,
    (Phase.CLOSED, Signal.CANCEL): _stay,
    (Phase.OPEN, Signal.REQUEST): _open_request,
    # Outcomes cannot reach an OPEN circuit with a current generation (it admits nothing); kept
    # for completeness so that every (phase, signal) pair has exactly one rule.
    (Phase.OPEN, Signal.SUCCESS): _stay,
    (Phase.OPEN, Signal.FAILURE): _stay,
    (Phase.OPEN, Signal.CANCEL): _stay,
    (Phase.HALF_OPEN, Signal.REQUEST): _half_open_request,
    (Phase.HALF_OPEN, Signal.SUCCESS): _half_open_success,
    (Phase.HALF_OPEN, Signal.FAILURE): _half_open_failure,
    (Phase.HALF_OPEN, Signal.CANCEL): _half_open_cancel,
}


def step(
    policy: BreakerPolicy, state: BreakerState, signal: Signal, now: float, generation: int | None = None
) -> Step:
    """Apply one signal. Outcome signals pass the ``generation`` their admission saw; a stale one
    changes nothing. ``REQUEST`` ignores ``generation``."""
    if signal is not Signal.REQUEST and generation != state.generation:
        return Step(state)
    return TRANSITIONS[state.phase, signal](policy, state, now)


def _push(policy: BreakerPolicy, s: BreakerState, bit: int) -> tuple[int, int]:
    mask = (1 << policy.window) - 1
    return ((s.outcomes << 1) | bit) & mask, min(s.seen + 1, policy.window)

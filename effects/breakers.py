"""The client's circuit-breaker states: the pure transitions of :mod:`interlingua.core.breaker`, held
per key (``"openai"`` or ``"openai:gpt-4o"``) in a bounded store.

Two small methods are the whole interface the call path uses (``admit`` before an attempt,
``report`` after it), so a shared store (Redis) can replace this one. The store is an LRU of at
most ``max_keys`` states: each call touches one key in O(1), and a client that has seen 75,000
distinct model strings holds the few thousand most recent, not all of them (a forgotten key
starts closed again, as a new client would).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from interlingua.core.breaker import BreakerPolicy, BreakerState, Phase, Signal, step

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_PHASE_CLOSED, _SIGNAL_REQUEST, _SIGNAL_SUCCESS = Phase.CLOSED, Signal.REQUEST, Signal.SUCCESS

__all__ = ["CLOSED", "REJECTED", "Breakers"]

CLOSED = BreakerState()
REJECTED = -1
"""What :meth:`Breakers.admit` returns when the circuit refuses the attempt."""

OnChange = Callable[[str, Phase, Phase], None]


class Breakers:
    __slots__ = ("_states", "idle", "max_keys", "policy")

    def __init__(self, policy: BreakerPolicy, *, max_keys: int = 4096) -> None:
        self.policy = policy
        self.max_keys = max_keys
        self._states: OrderedDict[str, BreakerState] = OrderedDict()
        self.idle = policy.window <= 0
        """No circuit has held any state yet (every one is :data:`CLOSED`) and a success on a closed,
        failure-free circuit changes nothing (no sliding window): ``admit`` would answer ``CLOSED``'s
        generation and ``report(SUCCESS)`` do nothing, so the call path skips both (issue 19). False
        from the first state stored on."""

    def get(self, key: str) -> BreakerState:
        return self._states.get(key, CLOSED)

    def __len__(self) -> int:
        return len(self._states)

    def admit(self, key: str, now: float, on_change: OnChange) -> int:
        """Ask the breaker for ``key``: the generation to report the outcome with, or :data:`REJECTED`."""
        old = self._states.get(key, CLOSED)
        if old.phase is _PHASE_CLOSED:
            # core.breaker TRANSITIONS (CLOSED, REQUEST) is ``_stay``: admitted, nothing changes
            # (issue 19: three calls less per attempt on a healthy circuit)
            return old.generation
        s = step(self.policy, old, _SIGNAL_REQUEST, now)
        if s.state is not old:
            self._set(key, old, s.state, on_change)
        return s.state.generation if s.admitted else REJECTED

    def report(self, key: str, generation: int, signal: Signal, now: float, on_change: OnChange) -> None:
        """The outcome of an attempt admitted at ``generation`` (a stale generation changes nothing)."""
        old = self._states.get(key, CLOSED)
        if signal is _SIGNAL_SUCCESS and old.phase is _PHASE_CLOSED and old.failures == 0 and self.policy.window <= 0:
            return  # core.breaker ``_closed_success``'s common case: a healthy circuit stays as it is
        s = step(self.policy, old, signal, now, generation)
        if s.state is not old:
            self._set(key, old, s.state, on_change)

    def _set(self, key: str, old: BreakerState, new: BreakerState, on_change: OnChange) -> None:
        self.idle = False
        states = self._states
        states[key] = new
        states.move_to_end(key)
        if len(states) > self.max_keys:
            states.popitem(last=False)
        if new.phase is not old.phase:
            on_change(key, old.phase, new.phase)

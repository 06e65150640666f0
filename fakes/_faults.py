"""Injectable faults, shared by every provider's fake.

A fault comes from the ``x-interlingua-fault`` request header (one request) or from a queue filled
from Python (``fake.fail_next("openai", "429")``). The grammar is ``name[=value][;key=value…]``:

==================  ===========================================================================
``429``             rate limited; ``;retry-after=S`` sets the header (default 1)
``500`` ``502``     the provider's own error body for that status
``503`` ``529``     overloaded (529 is Anthropic's)
``<any 4xx/5xx>``   that status with the provider's error body
``slow=S``          wait S seconds before sending headers, then answer normally
``hang``            never answer (until the client gives up)
``reset``           close the connection without any response
``cut=N``           stream: close the connection after N events; non-stream: after half the body
``cut-mid=N``       stream: send half of event N (cut inside a line/event), then close
``idle=S``          stream: stall S seconds after the first event, then continue
``error-event``     stream: the provider's mid-stream error event after the first event
``malformed``       200 with a body that is not valid JSON
``truncate``        200 whose Content-Length promises more than is sent
``oversize=N``      200 whose body is N bytes of valid-looking JSON padding
``content-type``    200 with an HTML page instead of JSON
==================  ===========================================================================
"""

from __future__ import annotations

import msgspec

__all__ = ["FAULT_HEADER", "Fault", "parse_fault"]

FAULT_HEADER = "x-interlingua-fault"


class Fault(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    status: int | None = None
    value: float | None = None
    retry_after: str | None = None

    @property
    def is_status(self) -> bool:
        return self.status is not None


def parse_fault(spec: str) -> Fault | None:
    """``"429;retry-after=2"`` → ``Fault(name='429', status=429, retry_after='2')``; junk → ``None``.

    >>> parse_fault("429;retry-after=2")
    Fault(name='429', status=429, value=None, retry_after='2')
    >>> parse_fault("slow=1.5").value
    1.5
    """
    spec = spec.strip()
    if not spec:
        return None
    head, *params = [p.strip() for p in spec.split(";")]
    name, _, raw = head.partition("=")
    name = name.lower()
    opts = dict(p.partition("=")[::2] for p in params if p)
    value: float | None = None
    if raw:
        try:
            value = float(raw)
        except ValueError:
            return None
    status: int | None = None
    if name.isdigit() and 400 <= int(name) <= 599:
        status = int(name)
    elif name not in _NAMED:
        return None
    retry_after = opts.get("retry-after")
    if status == 429 and retry_after is None:
        retry_after = "1"
    return Fault(name=name, status=status, value=value, retry_after=retry_after)


_NAMED = frozenset(
    {"slow", "hang", "reset", "cut", "cut-mid", "idle", "error-event", "malformed", "truncate", "oversize", "content-type"}
)

"""The time budget as a promise: one wall-clock deadline per theorem, and limits on a candidate's size.

`Prover.prove_theorem` opens a `deadline_scope` around its search; everything that can block
while it runs (a proof-assistant call, a model request, a replay) asks `remaining()` and waits no
longer than that plus a small grace, so a stalled model server or a hostile candidate cannot keep
a theorem past its budget. Outside a scope there is no deadline (`remaining()` is None).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

__all__ = [
    "MAX_CANDIDATE_CHARS",
    "MAX_CANDIDATE_SENTENCES",
    "DEADLINE_GRACE_SECONDS",
    "deadline_scope",
    "deadline_lifted",
    "current_deadline",
    "remaining",
    "expired",
    "capped",
]

MAX_CANDIDATE_CHARS = 32_000
"""A candidate (tactic or whole-proof script) longer than this is refused unread (a `Failed`)."""

MAX_CANDIDATE_SENTENCES = 200
"""A candidate of more sentences than this is refused: whole-proof models write tens, not thousands."""

DEADLINE_GRACE_SECONDS = 1.0
"""How long past the deadline a call in flight may wait before it is cut (to interrupt it cleanly)."""

_DEADLINE: ContextVar[float | None] = ContextVar("neuroprove_deadline", default=None)


@contextmanager
def deadline_scope(seconds: float) -> Iterator[float]:
    """Within the block, `remaining()` counts down from `seconds` (monotonic clock); yields the deadline."""
    deadline = time.monotonic() + seconds
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


@contextmanager
def deadline_lifted() -> Iterator[float | None]:
    """Within the block there is no deadline (a kernel check of a proof already found must finish
    on its own limits); yields the deadline that was lifted, for limits derived from it."""
    lifted = _DEADLINE.get()
    token = _DEADLINE.set(None)
    try:
        yield lifted
    finally:
        _DEADLINE.reset(token)


def current_deadline() -> float | None:
    """The innermost scope's deadline (a `time.monotonic()` value), or None outside any scope."""
    return _DEADLINE.get()


def remaining(deadline: float | None = None) -> float | None:
    """Seconds left before `deadline` (default: the current scope's), at least 0; None when there is none."""
    deadline = current_deadline() if deadline is None else deadline
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def expired(deadline: float | None = None) -> bool:
    """True when there is a deadline and it has passed."""
    left = remaining(deadline)
    return left is not None and left <= 0.0


def capped(timeout: float, deadline: float | None = None) -> float:
    """`timeout`, shortened to what is left of the deadline plus `DEADLINE_GRACE_SECONDS`."""
    left = remaining(deadline)
    if left is None:
        return timeout
    return max(0.05, min(timeout, left + DEADLINE_GRACE_SECONDS))

"""Budget and time accounting shared by the searches: expansions, wall seconds, model vs prover vs
kernel-check time; and the one place where a found proof meets the kernel check (`Meter.check_proof`)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Callable

from search.types import Budget, Failed, FailureKind, Outcome, ProofVerifier, Proved, Verdict

__all__ = ["Clock", "Meter"]

Clock = Callable[[], float]
"""Seconds from an arbitrary origin; `time.perf_counter` by default, a fake in tests."""


class Meter:
    """Counts one search's expansions and seconds against its `Budget`."""

    def __init__(self, budget: Budget, clock: Clock = time.perf_counter) -> None:
        self.budget = budget
        self.clock = clock
        self.started = clock()
        self.expansions = 0
        self.rejected = 0  # proofs the kernel check rejected
        self.last_rejection = ""  # the kernel check's reason for the last one
        self.verdict: Verdict | None = None  # the kernel's acceptance of the proof found, once there is one
        self._policy_timer = _Timer(clock)
        self._env_timer = _Timer(clock)
        self._verify_timer = _Timer(clock)

    @property
    def policy_seconds(self) -> float:
        """Seconds in the policy and the value function (model time)."""
        return self._policy_timer.seconds

    @property
    def env_seconds(self) -> float:
        """Seconds in the environment's steps (prover time)."""
        return self._env_timer.seconds

    @property
    def verify_seconds(self) -> float:
        """Seconds in kernel checks of proofs found."""
        return self._verify_timer.seconds

    def elapsed(self) -> float:
        """Wall seconds since the search started."""
        return self.clock() - self.started

    def expansions_left(self) -> int | None:
        """How many more environment steps the budget allows (None: no limit)."""
        if self.budget.max_expansions is None:
            return None
        return max(0, self.budget.max_expansions - self.expansions)

    def out_of_budget(self, in_flight: int = 0) -> bool:
        """True when no further step may be started (`in_flight` steps already started count)."""
        budget = self.budget  # inlined `expansions_left` and `out_of_time`: this runs before every step
        if budget.max_expansions is not None and budget.max_expansions - self.expansions - in_flight <= 0:
            return True
        return budget.max_seconds is not None and self.clock() - self.started >= budget.max_seconds

    def out_of_time(self) -> bool:
        """True when the wall-clock budget is spent."""
        return self.budget.max_seconds is not None and self.elapsed() >= self.budget.max_seconds

    def timing_policy(self) -> _Timer:
        """A context adding the enclosed block's seconds to policy (model) time."""
        return self._policy_timer

    def timing_env(self) -> _Timer:
        """A context adding the enclosed block's seconds to environment (prover) time."""
        return self._env_timer

    def timing_verify(self) -> _Timer:
        """A context adding the enclosed block's seconds to kernel-check time."""
        return self._verify_timer

    def check_proof(self, outcome: Outcome, verify: ProofVerifier | None) -> Outcome:
        """Have the kernel check a step's `Proved` (when a verifier is given): an accepted proof is
        kept with its verdict in `self.verdict`; a rejected one becomes a `Failed` of kind
        KERNEL_REJECTED, so the search marks that path dead and goes on."""
        if verify is None or not isinstance(outcome, Proved):
            return outcome
        with self.timing_verify():
            verdict = verify(tuple(outcome.path))
        if verdict.accepted:
            self.verdict = verdict
            return outcome
        self.rejected += 1
        self.last_rejection = verdict.reason
        return Failed(f"kernel rejected the proof: {verdict.reason}", FailureKind.KERNEL_REJECTED)


class _Timer:
    """Adds up the seconds `with` blocks took, however each block ends: one of a `Meter`'s totals.

    One per total and meter, reused by every block (a plain class rather than a generator-based
    `contextlib.contextmanager`, which costs several times more, several times per search step); a
    block nested in another of the same total is counted once, with the outer one."""

    __slots__ = ("clock", "depth", "seconds", "start")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.seconds = 0.0
        self.start = 0.0
        self.depth = 0  # blocks of this total open now

    def __enter__(self) -> None:
        if not self.depth:
            self.start = self.clock()
        self.depth += 1

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.depth -= 1
        if not self.depth:
            self.seconds += self.clock() - self.start

"""Budget and time accounting shared by the searches: expansions, wall seconds, model vs prover vs
kernel-check time; and the one place where a found proof meets the kernel check (`Meter.check_proof`)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

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
        self.policy_seconds = 0.0
        self.env_seconds = 0.0
        self.verify_seconds = 0.0
        self.rejected = 0  # proofs the kernel check rejected
        self.last_rejection = ""  # the kernel check's reason for the last one
        self.verdict: Verdict | None = None  # the kernel's acceptance of the proof found, once there is one

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
        left = self.expansions_left()
        if left is not None and left - in_flight <= 0:
            return True
        return self.out_of_time()

    def out_of_time(self) -> bool:
        """True when the wall-clock budget is spent."""
        return self.budget.max_seconds is not None and self.elapsed() >= self.budget.max_seconds

    @contextmanager
    def timing_policy(self) -> Iterator[None]:
        """Add the enclosed block's seconds to policy (model) time."""
        start = self.clock()
        try:
            yield
        finally:
            self.policy_seconds += self.clock() - start

    @contextmanager
    def timing_env(self) -> Iterator[None]:
        """Add the enclosed block's seconds to environment (prover) time."""
        start = self.clock()
        try:
            yield
        finally:
            self.env_seconds += self.clock() - start

    @contextmanager
    def timing_verify(self) -> Iterator[None]:
        """Add the enclosed block's seconds to kernel-check time."""
        start = self.clock()
        try:
            yield
        finally:
            self.verify_seconds += self.clock() - start

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

"""Premise-selecting policies for Coq: `hammer` (CoqHammer's own premise selection and external
provers) and retrieval over the environment's lemmas.

`HammerPolicy` proposes the `hammer` tactic; the environment (which loads CoqHammer's plugin)
replaces a successful call by the tactic CoqHammer reconstructs, so proofs never depend on the
external provers.
"""

from __future__ import annotations

from typing import Sequence

from search.types import Candidate, State

__all__ = ["HammerPolicy"]


class HammerPolicy:
    """Proposes `hammer` for every goal that is not a bullet position or a shelved remainder.

    One candidate per state: CoqHammer chooses its premises itself. Mix it with the portfolio
    (`portfolio+hammer`) so the cheap closers are tried first in a best-first search.
    """

    source = "hammer"

    def propose(self, state: State, n: int) -> list[Candidate]:
        """`[hammer]` (log-probability 0) when the first goal is a focused one, else nothing."""
        if n <= 0 or not state.goals or state.goals[0].startswith(("(unfocused) ", "(shelved) ")):
            return []
        return [Candidate(tactic="hammer", log_prob=0.0, source=self.source)]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for each state."""
        return [self.propose(state, n) for state in states]

"""A mixture of policies: each proposes, priors are merged, duplicates removed, order deterministic.

Each component's candidates are first renormalised over its own list (a softmax of its
log-probabilities), so a symbolic portfolio's flat priors and a language model's small sequence
probabilities are comparable; the merged prior of a tactic is the weighted mixture
    p(t) = sum_i w_i * p_i(t)        (weights normalised to sum to 1)
over the components that proposed it (two tactics equal after whitespace normalisation are one).
Ties are broken by component order, then by the component's own rank, so the result is a pure
function of the components' answers.
"""

from __future__ import annotations

import math
from typing import Sequence

from search.types import Candidate, Policy, State, Theorem

from prover.policies.prompts import normalize_tactic

__all__ = ["MixturePolicy"]


def _softmax(log_probs: Sequence[float]) -> list[float]:
    if not log_probs:
        return []
    top = max(log_probs)
    weights = [math.exp(value - top) for value in log_probs]
    total = sum(weights)
    return [weight / total for weight in weights]


class MixturePolicy:
    """Several policies as one.

    policies: the components, asked in order.
    weights: one non-negative weight per component (default: equal); normalised to sum to 1.
    """

    def __init__(self, policies: Sequence[Policy], weights: Sequence[float] | None = None) -> None:
        if not policies:
            raise ValueError("a mixture needs at least one policy")
        weights = list(weights) if weights is not None else [1.0] * len(policies)
        if len(weights) != len(policies) or any(weight < 0 for weight in weights) or sum(weights) <= 0:
            raise ValueError(f"mixture weights must be one non-negative number per policy, not all zero: {weights}")
        total = sum(weights)
        self.policies = tuple(policies)
        self.weights = tuple(weight / total for weight in weights)

    def observe_theorem(self, theorem: Theorem) -> None:
        """Tell every component that reads the theorem's file (the portfolio's generators) about it."""
        for policy in self.policies:
            observe = getattr(policy, "observe_theorem", None)
            if observe is not None:
                observe(theorem)

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` distinct candidates for `state`, best first."""
        return self.propose_batch([state], n)[0]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """Each component's `propose_batch` once, merged per state."""
        if not states:
            return []
        answers = [
            policy.propose_batch(states, n) if weight > 0 else [[] for _ in states]
            for policy, weight in zip(self.policies, self.weights)
        ]
        return [self._merge([answer[index] for answer in answers], n) for index in range(len(states))]

    def _merge(self, per_policy: Sequence[Sequence[Candidate]], n: int) -> list[Candidate]:
        merged: dict[str, list] = {}  # key -> [probability, first (component, rank), tactic, best source, best share]
        for component, (candidates, weight) in enumerate(zip(per_policy, self.weights)):
            # A component may itself repeat a tactic; keep its first (best) occurrence.
            unique: dict[str, Candidate] = {}
            for candidate in candidates:
                unique.setdefault(normalize_tactic(candidate.tactic), candidate)
            probabilities = _softmax([candidate.log_prob for candidate in unique.values()])
            for rank, ((key, candidate), probability) in enumerate(zip(unique.items(), probabilities)):
                if not key:
                    continue
                share = weight * probability
                entry = merged.get(key)
                if entry is None:
                    merged[key] = [share, (component, rank), candidate.tactic, candidate.source, share]
                    continue
                entry[0] += share
                if share > entry[4]:
                    entry[3], entry[4] = candidate.source, share
        ranked = sorted(merged.values(), key=lambda entry: (-entry[0], entry[1]))
        return [
            Candidate(tactic=entry[2], log_prob=math.log(entry[0]) if entry[0] > 0 else -math.inf, source=entry[3])
            for entry in ranked[:n]
        ]

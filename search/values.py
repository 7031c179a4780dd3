"""Value functions: estimates in [0, 1] of the chance that a proof state can be proved.

All implement `search.types.ValueFunction` (`value(state) -> float`); a learned critic plugs in the
same way. `HeuristicValue` is the default for MCTS.
"""

from __future__ import annotations

import math

from search.types import Policy, State, ValueFunction

__all__ = ["ConstantValue", "HeuristicValue", "MinOverGoalsValue", "PolicyScoreValue"]


class ConstantValue:
    """The same value for every state: MCTS then steers by priors and proved/failed terminals alone."""

    def __init__(self, value: float = 0.5) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"a value must lie in [0, 1], got {value}")
        self.constant = value

    def value(self, state: State) -> float:
        """The constant."""
        return self.constant


class HeuristicValue:
    """Fewer and smaller goals look closer to a proof.

    value = goal_factor ** (goals - 1) / (1 + characters / characters_scale): 1.0 for no goals,
    halved (by default) for each extra goal, and halved again when the goals' text reaches
    `characters_scale` characters. Cheap, monotone, always in (0, 1].
    """

    def __init__(self, *, goal_factor: float = 0.5, characters_scale: float = 400.0) -> None:
        if not 0.0 < goal_factor <= 1.0 or characters_scale <= 0:
            raise ValueError("goal_factor must lie in (0, 1] and characters_scale be positive")
        self.goal_factor = goal_factor
        self.characters_scale = characters_scale

    def value(self, state: State) -> float:
        """The heuristic estimate for `state`."""
        if not state.goals:
            return 1.0
        characters = sum(map(len, state.goals))
        return self.goal_factor ** (len(state.goals) - 1) / (1.0 + characters / self.characters_scale)


class PolicyScoreValue:
    """The policy's own confidence: the probability of its best next tactic, exp(max log_prob).

    Costs one policy call per new state, so answers are cached by goals (bounded by `cache_size`,
    oldest first out).
    """

    def __init__(self, policy: Policy, *, cache_size: int = 100_000) -> None:
        self.policy = policy
        self.cache_size = cache_size
        self._cache: dict[str, float] = {}

    def value(self, state: State) -> float:
        """exp of the best candidate's log-probability at `state`; 0.0 when the policy has nothing."""
        if not state.goals:
            return 1.0
        cached = self._cache.get(state.key)
        if cached is not None:
            return cached
        candidates = self.policy.propose(state, 1)
        score = min(1.0, math.exp(max(c.log_prob for c in candidates))) if candidates else 0.0
        if len(self._cache) >= self.cache_size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[state.key] = score
        return score


class MinOverGoalsValue:
    """A state is as hard as its hardest goal: the minimum of `inner` over each goal alone.

    AlphaProof's product nodes value independent goals this way; here it is only the value (the
    search still proves the goals in order, as one state).
    """

    def __init__(self, inner: ValueFunction) -> None:
        self.inner = inner

    def value(self, state: State) -> float:
        """min over goals g of inner.value(State((g,), path)); 1.0 for no goals."""
        if not state.goals:
            return 1.0
        return min(self.inner.value(State(goals=(goal,), path=state.path)) for goal in state.goals)


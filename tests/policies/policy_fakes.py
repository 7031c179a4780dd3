"""Deterministic fakes for policy tests: a scripted policy, and a toy environment with multi-step scripts."""

from __future__ import annotations

import math
import threading
from typing import Sequence

from search.types import Candidate, Failed, Outcome, Progress, Proved, State, Theorem, Verdict


class ScriptedPolicy:
    """Proposes fixed (tactic, probability) pairs for every state, and records its batch sizes."""

    def __init__(self, proposals: Sequence[tuple[str, float]], source: str = "scripted") -> None:
        self.proposals = list(proposals)
        self.source = source
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def propose(self, state: State, n: int) -> list[Candidate]:
        return self.propose_batch([state], n)[0]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        with self._lock:
            self.batch_sizes.append(len(states))
        row = [Candidate(tactic, math.log(p), self.source) for tactic, p in self.proposals[:n]]
        return [list(row) for _ in states]


class CounterEnvironment:
    """Goal `count=K`: tactic `dec` lowers K by one (proved at 0); anything else fails.

    Records every single step it was asked to take, to check that scripts are split.
    """

    def __init__(self, start_count: int = 3) -> None:
        self.start_count = start_count
        self.steps: list[str] = []
        self.started: list[Theorem] = []

    def start(self, theorem: Theorem) -> State:
        self.started.append(theorem)
        return State(goals=(f"count={self.start_count}",))

    def step(self, state: State, tactic: str) -> Outcome:
        self.steps.append(tactic)
        count = int(state.goals[0].split("=")[1])
        if tactic.strip() != "dec":
            return Failed(f"unknown tactic {tactic!r}")
        if count == 1:
            return Proved(state.path + (tactic,))
        return Progress(State(goals=(f"count={count - 1}",), path=state.path + (tactic,)))

    def verify(self, theorem: Theorem, proof: Sequence[str]) -> Verdict:
        return Verdict(accepted=list(proof) == ["dec"] * self.start_count)


def split_lines(script: str) -> list[str]:
    """A toy `split_proof`: one step per non-empty line."""
    return [line.strip() for line in script.splitlines() if line.strip()]

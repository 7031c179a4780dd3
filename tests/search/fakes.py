"""Tiny deterministic environments, policies, clocks and executors whose proofs are known by hand.

- `SubtractionPuzzle`: a goal is a positive integer; `sub k` takes k from the first goal; reaching 0
  closes it; going below 0 fails. Proofs are sums.
- `TableEnvironment` / `TablePolicy`: an explicit transition table, for dead ends, transpositions
  and cycles drawn on paper.
- `EndlessEnvironment` / `EndlessPolicy`: every tactic leads to a fresh state and nothing is ever
  proved (budgets, widening, benchmarks).
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Mapping, Sequence

from search.executor import InProcessExecutor, Job
from search.types import Candidate, Failed, Outcome, Progress, Proved, State, Theorem, Verdict

QED = "QED"


class FakeClock:
    """A clock that moves only when told to: budgets in seconds become exact."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _CountingEnvironment:
    """Shared bookkeeping: counts steps, optionally advances a fake clock per step, replays proofs."""

    def __init__(self, clock: FakeClock | None = None, step_seconds: float = 0.0) -> None:
        self.clock = clock
        self.step_seconds = step_seconds
        self.steps: list[tuple[str, str]] = []

    def step(self, state: State, tactic: str) -> Outcome:
        self.steps.append((state.key, tactic))
        if self.clock is not None:
            self.clock.advance(self.step_seconds)
        return self.transition(state, tactic)

    def transition(self, state: State, tactic: str) -> Outcome:
        raise NotImplementedError

    def verify(self, theorem: Theorem, proof: Sequence[str]) -> Verdict:
        """Replay `proof` from the start; accepted only when the last step proves."""
        state = self.start(theorem)
        for index, tactic in enumerate(proof):
            outcome = self.transition(state, tactic)
            if isinstance(outcome, Proved):
                return Verdict(accepted=index == len(proof) - 1, reason="" if index == len(proof) - 1 else "extra steps")
            if isinstance(outcome, Failed):
                return Verdict(accepted=False, reason=outcome.message)
            state = outcome.state
        return Verdict(accepted=False, reason="goals remain")

    def start(self, theorem: Theorem) -> State:
        raise NotImplementedError


class SubtractionPuzzle(_CountingEnvironment):
    """Goals are integers as text; `sub k` subtracts k from the first goal (0 closes it, < 0 fails)."""

    def start(self, theorem: Theorem) -> State:
        return State(goals=tuple(theorem.statement.split()))

    def transition(self, state: State, tactic: str) -> Outcome:
        name, _, amount = tactic.partition(" ")
        if name != "sub" or not amount.isdigit():
            return Failed(f"unknown tactic {tactic!r}")
        remainder = int(state.goals[0]) - int(amount)
        if remainder < 0:
            return Failed(f"{state.goals[0]} - {amount} < 0")
        rest = state.goals[1:] if remainder == 0 else (str(remainder), *state.goals[1:])
        path = (*state.path, tactic)
        return Progress(State(goals=rest, path=path)) if rest else Proved(path)


class SubtractionPolicy:
    """Proposes `sub k` for every k in `moves` with the given probabilities; records each request."""

    def __init__(self, moves: Mapping[int, float]) -> None:
        self.candidates = sorted(
            (Candidate(f"sub {k}", math.log(p) if p > 0 else -math.inf, "fake") for k, p in moves.items()),
            key=lambda c: -c.log_prob,
        )
        self.requests: list[tuple[str, int]] = []

    def propose(self, state: State, n: int) -> list[Candidate]:
        self.requests.append((state.key, n))
        return self.candidates[:n]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


class TableEnvironment(_CountingEnvironment):
    """States are names; `table[name][tactic]` is the next name, `QED`, or None (the tactic fails).

    A tactic missing from the table fails too.
    """

    def __init__(
        self, table: Mapping[str, Mapping[str, str | None]], *, endless_beyond_table: bool = False, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.table = table
        self.endless_beyond_table = endless_beyond_table  # states not in the table behave as `EndlessEnvironment`

    def start(self, theorem: Theorem) -> State:
        return State(goals=(theorem.statement,))

    def transition(self, state: State, tactic: str) -> Outcome:
        if self.endless_beyond_table and state.goals[0] not in self.table:
            return EndlessEnvironment().transition(state, tactic)
        target = self.table.get(state.goals[0], {}).get(tactic)
        path = (*state.path, tactic)
        if target is None:
            return Failed(f"{tactic} does not apply to {state.goals[0]}")
        if target == QED:
            return Proved(path)
        return Progress(State(goals=(target,), path=path))


class TablePolicy:
    """Proposes the table's tactics for a state with log-probabilities `log(weight)`."""

    def __init__(self, weights: Mapping[str, Mapping[str, float]], *, endless_beyond_table: bool = False) -> None:
        self.weights = weights
        self.endless_beyond_table = endless_beyond_table  # states not in the table get `EndlessPolicy` tactics
        self.requests: list[tuple[str, int]] = []

    def propose(self, state: State, n: int) -> list[Candidate]:
        self.requests.append((state.key, n))
        if self.endless_beyond_table and state.goals[0] not in self.weights:
            return EndlessPolicy().propose(state, n)
        ranked = sorted(self.weights.get(state.goals[0], {}).items(), key=lambda kv: -kv[1])
        return [Candidate(tactic, math.log(weight), "fake") for tactic, weight in ranked[:n]]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


class EndlessEnvironment(_CountingEnvironment):
    """Tactic `t<i>` on goal g leads to goal `g.i`: always a fresh state, never a proof. The root goal is "1"."""

    def start(self, theorem: Theorem) -> State:
        return State(goals=("1",))

    def transition(self, state: State, tactic: str) -> Outcome:
        return Progress(State(goals=(f"{state.goals[0]}.{tactic[1:]}",), path=(*state.path, tactic)))


class EndlessPolicy:
    """Offers `t0`, `t1`, ... (up to `width`) with geometrically falling probabilities; records requests."""

    def __init__(self, width: int = 30) -> None:
        weights = [0.5**i for i in range(width)]
        total = sum(weights)
        self.candidates = [Candidate(f"t{i}", math.log(w / total), "fake") for i, w in enumerate(weights)]
        self.requests: list[tuple[str, int]] = []

    def propose(self, state: State, n: int) -> list[Candidate]:
        self.requests.append((state.key, n))
        return self.candidates[:n]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


class ShuffledPolicy:
    """Wraps a policy and returns its candidates in a seeded random order (the order must not matter)."""

    def __init__(self, inner: object, seed: int) -> None:
        self.inner = inner
        self.rng = random.Random(seed)

    def propose(self, state: State, n: int) -> list[Candidate]:
        candidates = list(self.inner.propose(state, n))  # type: ignore[attr-defined]
        self.rng.shuffle(candidates)
        return candidates

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


class RecordingExecutor(InProcessExecutor):
    """The in-process executor, noting each submission with how many results had been collected then."""

    def __init__(self, env: object) -> None:
        super().__init__(env)  # type: ignore[arg-type]
        self.collected = 0
        self.submissions: list[tuple[Job, int]] = []

    def submit(self, job: Job) -> None:
        self.submissions.append((job, self.collected))
        super().submit(job)

    def collect(self) -> tuple[Job, Outcome]:
        self.collected += 1
        return super().collect()


class LastInFirstOutExecutor:
    """Finishes the most recently submitted job first: results arrive out of submission order."""

    def __init__(self, env: object) -> None:
        self.env = env
        self._stack: deque[Job] = deque()

    def submit(self, job: Job) -> None:
        self._stack.append(job)

    def collect(self) -> tuple[Job, Outcome]:
        job = self._stack.pop()
        return job, self.env.step(job.state, job.tactic)  # type: ignore[attr-defined]

    def cancel(self) -> None:
        self._stack.clear()


# A maze drawn on paper (log-probabilities are log(weight)):
#   root --a--> A --x--> D (dead: z fails)        root --c--> C --r--> QED   (shortest proof: c, r)
#              A --y--> A2 --back--> root (cycle)             C --s--> fails
#   root --b--> B --p--> E (dead: t fails)
#              B --q--> C (transposition with root --c--> C)
MAZE_TABLE: dict[str, dict[str, str | None]] = {
    "root": {"a": "A", "b": "B", "c": "C"},
    "A": {"x": "D", "y": "A2"},
    "A2": {"back": "root"},
    "D": {"z": None},
    "B": {"p": "E", "q": "C"},
    "E": {"t": None},
    "C": {"r": QED, "s": None},
}
MAZE_WEIGHTS: dict[str, dict[str, float]] = {
    "root": {"a": 0.9, "b": 0.6, "c": 0.135},
    "A": {"x": 0.9, "y": 0.8},
    "A2": {"back": 0.9},
    "D": {"z": 0.5},
    "B": {"p": 0.74, "q": 0.74},
    "E": {"t": 0.5},
    "C": {"r": 0.37, "s": 0.3},
}
MAZE_SHORTEST_PROOF = ("c", "r")

# The same maze with C unprovable: every route ends in a failure or the cycle.
DEAD_MAZE_TABLE = {**MAZE_TABLE, "C": {"r": None, "s": None}}

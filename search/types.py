"""The search's vocabulary: protocols for environments, policies and values, and frozen value types.

Everything that crosses the boundary between `search/` and `prover/` is defined here, so the
search algorithms can be tested with tiny fakes and never import a backend, a model, torch or ray.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Generic, Hashable, Protocol, Sequence, TypeVar, runtime_checkable

if TYPE_CHECKING:  # search.tree imports this module: the graph's type is named for checkers only
    from search.tree import ProofGraph

__all__ = [
    "Theorem",
    "State",
    "Progress",
    "Proved",
    "FailureKind",
    "TRANSIENT_FAILURES",
    "Failed",
    "Outcome",
    "Verdict",
    "Candidate",
    "Budget",
    "SearchStatus",
    "SearchResult",
    "Environment",
    "Policy",
    "ValueFunction",
    "ProofVerifier",
]

_T = TypeVar("_T")


class _computed_once(Generic[_T]):
    """Like `functools.cached_property` without its lock (Python 3.11 takes one per first read, a
    noticeable cost on a step's hot path): the first read stores the value on the instance, where
    later reads find it before this (non-data) descriptor."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> _T:
        if instance is None:
            return self  # type: ignore[return-value]  # read on the class: the descriptor itself
        value = self.compute(instance)
        object.__setattr__(instance, self.name, value)  # past a frozen dataclass's guard, into the instance
        return value


@dataclass(frozen=True)
class Theorem:
    """One theorem to prove.

    name: the declaration's name as written in the source (e.g. `mathd_algebra_478`).
    statement: the declaration text up to, not including, its proof (e.g. `Theorem t : 1 + 1 = 2.`
        for Coq, `theorem t : 1 + 1 = 2 :=` for Lean).
    header: everything the statement needs before it (imports, opens, earlier definitions), as text.
    source: where it came from (a file path or a dataset id); informational only.
    """

    name: str
    statement: str
    header: str = ""
    source: str = ""


@dataclass(frozen=True)
class State:
    """A proof state: the open goals after applying `path` to the theorem's root.

    goals: each open goal pretty-printed by the proof assistant (hypotheses, then the conclusion);
        the first goal is the one the next tactic acts on.
    path: the tactics applied from the root, in order; replaying them rebuilds the state, which is
        how a state moves between workers or survives a prover restart.
    handle: a backend's opaque cache key (e.g. a Lean proof-state id with its server generation);
        not part of equality, so two routes to the same goals compare equal only by `goals`/`path`.
    """

    goals: tuple[str, ...]
    path: tuple[str, ...] = ()
    handle: Hashable | None = field(default=None, compare=False, hash=False)

    @_computed_once
    def key(self) -> str:
        """Canonical text of the goals: identical keys are the same proof state (transpositions).

        Computed once per state (the searches read it several times per step); not a field."""
        return "\n\n".join(self.goals)

    @property
    def depth(self) -> int:
        """Number of tactics applied since the root."""
        return len(self.path)


@dataclass(frozen=True)
class Progress:
    """The tactic ran and left `state` (with at least one goal) to prove."""

    state: State


@dataclass(frozen=True)
class Proved:
    """The tactic closed the last goal; `path` is the full tactic sequence from the root.

    This is the step-level claim of the proof assistant; the final word is `Environment.verify`.
    """

    path: tuple[str, ...]


class FailureKind(str, Enum):
    """Why a step failed; decides whether the failure is a dead end (permanent) or worth one retry (transient)."""

    TACTIC_ERROR = "tactic_error"  # the proof assistant rejected the tactic
    NO_PROGRESS = "no_progress"  # the tactic succeeded but left the goals unchanged
    REFUSED = "refused"  # never sent: not a tactic, a denied tactic, too large, unreadable text
    KERNEL_REJECTED = "kernel_rejected"  # closed every goal at step level, but the kernel check rejected the proof
    TIMEOUT = "timeout"  # the tactic used up its own time limit (Coq's `Timeout`): a dead end at this limit
    INTERRUPTED = "interrupted"  # cut by a wall-clock limit or the theorem's deadline, not by the tactic
    PROCESS_LOST = "process_lost"  # the prover process died, hung or could not rebuild the state


TRANSIENT_FAILURES = frozenset({FailureKind.INTERRUPTED, FailureKind.PROCESS_LOST})
"""Kinds that say nothing certain about the tactic: `search.tree.ProofGraph.record` retries them once."""


@dataclass(frozen=True)
class Failed:
    """The step was rejected: data, not an exception.

    message: the proof assistant's reason, one line.
    kind: why, as a `FailureKind`; transient kinds (`TRANSIENT_FAILURES`) are not dead ends.
    """

    message: str
    kind: FailureKind = FailureKind.TACTIC_ERROR

    @property
    def transient(self) -> bool:
        """True when the same step might succeed if tried again (interrupted under load, or a lost process)."""
        return self.kind in TRANSIENT_FAILURES


Outcome = Progress | Proved | Failed


@dataclass(frozen=True)
class Verdict:
    """The kernel's judgement of a complete proof, checked from scratch.

    accepted: True only when the whole theorem with its proof re-checks in a fresh environment,
        with no sorry/Admitted, only allowed axioms, and the statement unchanged.
    reason: why it was rejected (empty when accepted).
    axioms: the axioms the proof depends on, as the proof assistant reports them.
    """

    accepted: bool
    reason: str = ""
    axioms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A tactic proposed by a policy.

    tactic: the tactic text, one step (a whole-proof model may return a multi-step script).
    log_prob: the policy's log-probability of the tactic (<= 0); higher is more likely.
    source: which policy proposed it (e.g. "portfolio", "hf:model-id"); for analysis only.
    """

    tactic: str
    log_prob: float
    source: str = ""


@dataclass(frozen=True)
class Budget:
    """Limits on one search; whichever is reached first stops it. None means no limit.

    max_expansions: number of (state, tactic) steps sent to the environment.
    max_seconds: wall-clock seconds since the search started.
    """

    max_expansions: int | None = None
    max_seconds: float | None = None


class SearchStatus(str, Enum):
    """How a search ended."""

    PROVED = "proved"  # a path closes every goal (still to be verified by the kernel)
    EXHAUSTED = "exhausted"  # every reachable state failed: no proof exists with these candidates
    OUT_OF_BUDGET = "out_of_budget"  # stopped by the budget with open states left


@dataclass(frozen=True)
class SearchResult:
    """What a search returns.

    status: how it ended.
    proof: the tactic path that closed every goal, when status is PROVED.
    expansions: (state, tactic) steps sent to the environment.
    seconds: wall-clock seconds of the whole search (kernel checks of found proofs included).
    policy_seconds: seconds spent in the policy (model time; value-function calls included).
    env_seconds: seconds spent in the environment (prover time).
    verify_seconds: seconds spent in kernel checks of proofs found (the `verify` callback).
    verdict: the kernel's verdict on `proof` when the search checked it (a `verify` callback was given).
    rejected: proofs found at step level that the kernel check rejected (their paths were marked failed).
    last_rejection: the kernel check's reason for the last of those ("" when none).
    graph: the search's `search.tree.ProofGraph`, for export and analysis; not compared.
    """

    status: SearchStatus
    proof: tuple[str, ...] | None
    expansions: int
    seconds: float
    policy_seconds: float = 0.0
    env_seconds: float = 0.0
    verify_seconds: float = 0.0
    verdict: Verdict | None = None
    rejected: int = 0
    last_rejection: str = ""
    graph: ProofGraph | None = field(default=None, compare=False, repr=False)

    @property
    def overhead_seconds(self) -> float:
        """The search's own seconds: `seconds` less the policy's, the environment's and the kernel
        checks' (graph bookkeeping, selection, queues); at least 0."""
        return max(0.0, self.seconds - self.policy_seconds - self.env_seconds - self.verify_seconds)

    @property
    def overhead_fraction(self) -> float:
        """`overhead_seconds` as a fraction of `seconds` (0 for a search that took no time)."""
        return self.overhead_seconds / self.seconds if self.seconds > 0 else 0.0


@runtime_checkable
class Environment(Protocol):
    """A proof assistant seen as an environment: states, steps, and a from-scratch kernel check.

    A tactic error is a `Failed` value. Infrastructure failures (timeout of the process, crash,
    out of memory, missing toolchain) raise `prover.errors`-style exceptions, never `Failed`.
    Any earlier state may be stepped again, in any order.
    """

    def start(self, theorem: Theorem) -> State:
        """Elaborate the statement and return the root proof state."""
        ...

    def step(self, state: State, tactic: str) -> Outcome:
        """Apply one tactic to `state` (its first goal, as the proof assistant does)."""
        ...

    def verify(self, theorem: Theorem, proof: Sequence[str]) -> Verdict:
        """Re-check the theorem with `proof` from scratch with the kernel."""
        ...


@runtime_checkable
class Policy(Protocol):
    """Proposes tactics for proof states."""

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` distinct candidates for `state`, best first."""
        ...

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for many states at once (one model call where the model allows)."""
        ...


ProofVerifier = Callable[[tuple[str, ...]], Verdict]
"""A search's kernel check of a proof found at step level (e.g. `lambda p: env.verify(theorem, p)`):
a rejected proof marks its last step failed (`FailureKind.KERNEL_REJECTED`) and the search goes on."""


@runtime_checkable
class ValueFunction(Protocol):
    """Estimates the chance of proving a state."""

    def value(self, state: State) -> float:
        """A number in [0, 1]: the estimated probability that `state` can be proved."""
        ...

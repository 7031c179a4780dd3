"""AlphaZero-style Monte-Carlo tree search over proof states (PUCT, progressive widening, virtual loss).

Each candidate tactic at a state is an action. One simulation walks down from the root choosing
actions with a selection rule (PUCT by default) until it picks an action not yet tried; that
(state, tactic) step is sent to an executor; when its outcome comes back the new state is evaluated
(a `ValueFunction`; 1 for a proof, 0 for a failure) and the value is backed up along the walk.

- PUCT (Silver et al. 2018, "A general reinforcement-learning algorithm that masters chess, shogi
  and Go through self-play", Science 362; pseudocode constants c_init=1.25, c_base=19652):
  score = Q + c(N) * P * sqrt(N) / (1 + n), P = softmax of the candidates' log-probabilities.
  Unvisited actions take the parent's mean value as Q ("first-play urgency").
- Progressive widening (Coulom 2007; Couëtoux et al. 2011, "Continuous upper confidence trees"):
  the tactic space is open-ended, so a state first gets `initial_candidates` and asks the policy
  for more once ceil(widening_constant * N ** widening_exponent) exceeds what it has; also when
  every known action is dead. (DeepSeek-Prover-V1.5's RMaxTS, Xin et al. 2024, arXiv:2408.08152,
  adds an intrinsic reward for reaching new states; not used here, a value function could add it.)
- Proved and failed are terminal: the first proof ends the search (a proved state proves every
  ancestor); a failed state's incoming actions are never selected again. Identical goals share one
  node (a DAG, `search.tree.ProofGraph`); cycles are refused. Statistics live on edges.
- Expansions in flight (virtual loss, Chaslot et al. 2008 "Parallel Monte-Carlo tree search";
  AlphaGo): up to `expansions_in_flight` leaves are selected before their results return, each walk
  counting as `virtual_loss` lost visits until it is backed up, which spreads the walks apart.
- AlphaProof (DeepMind 2024; Hubert et al. 2025, Nature) searches with product nodes over
  independent goals; here a tactic's result is one state holding all its goals (no product nodes);
  `search.values.MinOverGoalsValue` gives such a state its hardest goal's value, as they do.

Determinism: candidates are ordered by (log-probability, tactic text) and ties in the rule go the
same way, so with one in-process worker the same seed gives the same tree whatever order the
policy returns its candidates in. The seed drives only the optional Dirichlet noise at the root.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol

import numpy as np

from search.accounting import Clock, Meter
from search.executor import Executor, InProcessExecutor, Job
from search.tree import QED_KEY, Attempt, AttemptOutcome, NodeStatus, ProofGraph, sorted_candidates
from search.types import (
    Budget,
    Environment,
    Outcome,
    Policy,
    ProofVerifier,
    Proved,
    SearchResult,
    SearchStatus,
    State,
    ValueFunction,
)
from search.values import HeuristicValue

__all__ = ["ActionStats", "SelectionRule", "Puct", "MctsSettings", "mcts_search"]


class ActionStats(NamedTuple):
    """What a selection rule sees of one action (a NamedTuple: immutable and cheap to build).

    prior: the policy's probability of the action among the state's known candidates (sums to 1).
    visits: backups through the action plus in-flight walks weighted by the virtual loss.
    mean_value: mean backed-up value in [0, 1] counting in-flight walks as losses; for an action
        with no visits, the parent's mean value (first-play urgency).
    log_prob: the candidate's log-probability (for rules that want it raw).
    """

    prior: float
    visits: float
    mean_value: float
    log_prob: float


class SelectionRule(Protocol):
    """Scores an action at a state with `parent_visits` visits; the highest score is walked."""

    def __call__(self, action: ActionStats, parent_visits: float) -> float: ...


@dataclass(frozen=True, kw_only=True)
class Puct:
    """AlphaZero's PUCT rule: Q + (c_puct + log((N + c_base + 1) / c_base)) * P * sqrt(N) / (1 + n).

    Defaults from the AlphaZero pseudocode (c_init=1.25, c_base=19652); `c_base=None` keeps the
    exploration constant fixed at `c_puct`, as in AlphaGo Zero.
    """

    c_puct: float = 1.25
    c_base: float | None = 19652.0

    def __call__(self, action: ActionStats, parent_visits: float) -> float:
        c = self.c_puct
        if self.c_base is not None:
            c += math.log((parent_visits + self.c_base + 1.0) / self.c_base)
        return action.mean_value + c * action.prior * math.sqrt(parent_visits) / (1.0 + action.visits)


@dataclass(frozen=True, kw_only=True)
class MctsSettings:
    """Settings of MCTS; see the module docstring for the sources of the defaults.

    selection: the selection rule (PUCT with AlphaZero's constants).
    initial_candidates: candidates asked of the policy when a state is first visited.
    widening_constant, widening_exponent: a state with N visits may have up to
        max(initial_candidates, ceil(widening_constant * N ** widening_exponent)) candidates.
    max_candidates: no state asks for more than this many candidates in all.
    expansions_in_flight: leaves selected before their results return (1: sequential MCTS).
    virtual_loss: lost visits counted per in-flight walk through an action.
    root_dirichlet_alpha, root_dirichlet_fraction: AlphaZero's exploration noise mixed into the
        root priors (fraction 0 turns it off; AlphaZero used 0.25 and alpha 0.3 for chess).
    clock: seconds source for the wall budget and the timings (inject a fake in tests).
    check_invariants: run `ProofGraph.check_invariants()` after every step (tests; costs O(graph)).
    """

    selection: SelectionRule = Puct()
    initial_candidates: int = 8
    widening_constant: float = 1.0
    widening_exponent: float = 0.5
    max_candidates: int = 64
    expansions_in_flight: int = 1
    virtual_loss: float = 1.0
    root_dirichlet_alpha: float = 0.3
    root_dirichlet_fraction: float = 0.0
    clock: Clock = time.perf_counter
    check_invariants: bool = False

    def __post_init__(self) -> None:
        if self.initial_candidates < 1 or self.max_candidates < self.initial_candidates:
            raise ValueError("need 1 <= initial_candidates <= max_candidates")
        if self.expansions_in_flight < 1 or self.virtual_loss < 0:
            raise ValueError("expansions_in_flight must be at least 1 and virtual_loss non-negative")
        if not 0.0 <= self.root_dirichlet_fraction <= 1.0:
            raise ValueError("root_dirichlet_fraction must lie in [0, 1]")

    def allowed_candidates(self, visits: int) -> int:
        """How many candidates a state with `visits` visits may have (progressive widening)."""
        widened = math.ceil(self.widening_constant * visits**self.widening_exponent) if visits else 0
        return min(self.max_candidates, max(self.initial_candidates, widened))


Walk = tuple[tuple[str, str], ...]
"""A selection: the (node key, tactic) pairs from the root to the leaf action."""


class _Search:
    """One MCTS run: the graph plus the run's transient bookkeeping (in-flight walks, noise, meter)."""

    def __init__(
        self,
        graph: ProofGraph,
        policy: Policy,
        value: ValueFunction,
        settings: MctsSettings,
        meter: Meter,
        rng: np.random.Generator,
    ) -> None:
        self.graph = graph
        self.policy = policy
        self.value = value
        self.settings = settings
        self.meter = meter
        self.rng = rng
        self.virtual: dict[tuple[str, str], int] = {}  # in-flight walks through each action
        self.in_flight_leaves: set[tuple[str, str]] = set()
        self.root_noise: dict[str, float] = {}
        self.prior_cache: dict[str, tuple[int, dict[str, float]]] = {}  # node -> (candidates, priors)

    # ------------------------------------------------------------------------------------ select

    def select(self) -> Walk | None:
        """Walk from the root to an untried action; None when every open route ends at in-flight work."""
        while self.graph.status(self.graph.root) is NodeStatus.OPEN:
            walk: list[tuple[str, str]] = []
            node = self.graph.root
            while True:
                actions = self.selectable(node)
                if not actions and not self.has_live_action(node) and self.widen(node, all_dead=True):
                    actions = self.selectable(node)
                if not actions:
                    break
                action = self.choose(node, actions)
                walk.append((node, action.tactic))
                if action.outcome is AttemptOutcome.UNTRIED:
                    return tuple(walk)
                node = action.child
            if self.graph.status(node) is NodeStatus.OPEN:
                return None  # blocked by in-flight work below `node`
            # `node` just failed (its policy had nothing more): walk again, it is now avoided.
        return None

    def selectable(self, node: str) -> list[Attempt]:
        """Actions a walk may take at `node`: untried and not in flight, or leading to an open state."""
        self.widen(node, all_dead=False)
        return [
            a
            for a in self.graph.attempts(node)
            if (a.outcome is AttemptOutcome.UNTRIED and (node, a.tactic) not in self.in_flight_leaves)
            or (a.outcome is AttemptOutcome.PROGRESS and self.graph.status(a.child) is NodeStatus.OPEN)
        ]

    def has_live_action(self, node: str) -> bool:
        """True when some action at `node` is untried (perhaps in flight) or leads to an open state."""
        return any(
            a.outcome is AttemptOutcome.UNTRIED
            or (a.outcome is AttemptOutcome.PROGRESS and self.graph.status(a.child) is NodeStatus.OPEN)
            for a in self.graph.attempts(node)
        )

    def choose(self, node: str, actions: list[Attempt]) -> Attempt:
        """The action the selection rule scores highest; ties to the likelier, then alphabetically first, tactic.

        Each action is seen as `ActionStats`, in-flight walks through it counted as virtual losses.
        """
        attempts = self.graph.attempts(node)
        priors = self.priors(node)
        first_play_value = self.node_value(node)
        in_flight = sum(self.virtual.get((node, a.tactic), 0) for a in attempts) if self.virtual else 0
        parent_visits = 1.0 + sum(a.visits for a in attempts) + self.settings.virtual_loss * in_flight
        rule = self.settings.selection

        virtual_loss, virtual = self.settings.virtual_loss, self.virtual

        def rank(action: Attempt) -> tuple[float, float, str]:
            visits = action.visits + (virtual_loss * virtual.get((node, action.tactic), 0) if virtual else 0)
            mean = action.value_sum / visits if visits > 0 else first_play_value
            stats = ActionStats(priors[action.tactic], visits, mean, action.log_prob)
            return -rule(stats, parent_visits), -action.log_prob, action.tactic

        return min(actions, key=rank)

    def priors(self, node: str) -> dict[str, float]:
        """Softmax of the log-probabilities of every known candidate at `node`, with root noise if set."""
        attempts = self.graph.attempts(node)
        cached = self.prior_cache.get(node)
        if cached is not None and cached[0] == len(attempts):  # priors change only when candidates are added
            return cached[1]
        top = max(a.log_prob for a in attempts)
        if math.isfinite(top):
            weights = {a.tactic: math.exp(a.log_prob - top) for a in attempts}
        else:  # every candidate has probability 0 (or a policy sent nonsense): fall back to uniform
            weights = {a.tactic: 1.0 for a in attempts}
        total = math.fsum(weights.values())
        priors = {tactic: w / total for tactic, w in weights.items()}
        fraction = self.settings.root_dirichlet_fraction
        if node == self.graph.root and fraction > 0.0:
            for tactic in priors:  # drawn once per root candidate, in the canonical candidate order
                if tactic not in self.root_noise:
                    self.root_noise[tactic] = float(self.rng.gamma(self.settings.root_dirichlet_alpha))
            noise_total = math.fsum(self.root_noise[t] for t in priors)
            priors = {t: (1 - fraction) * p + fraction * self.root_noise[t] / noise_total for t, p in priors.items()}
        self.prior_cache[node] = (len(attempts), priors)
        return priors

    def node_value(self, node: str) -> float:
        """A node's mean backed-up value, or its first evaluation when nothing was backed up through it."""
        attempts = self.graph.attempts(node)
        visits = sum(a.visits for a in attempts)
        if visits:
            return math.fsum(a.value_sum for a in attempts) / visits
        return self.graph.info(node).get("value", 0.0)

    # ------------------------------------------------------------------------------------ expand

    def widen(self, node: str, *, all_dead: bool) -> bool:
        """Ask the policy for more candidates at `node` when widening allows it; True if any were added.

        `all_dead`: no known action is usable, so ask for a further batch whatever the visit count.
        A policy that returns fewer candidates than asked, or none new, has nothing more: the node
        is marked exhausted (and fails once its actions have failed).
        """
        if self.graph.is_exhausted(node):
            return False
        attempts = self.graph.attempts(node)
        known = len(attempts)
        visits = sum(a.visits for a in attempts)
        wanted = self.settings.allowed_candidates(visits)
        if all_dead:
            wanted = max(wanted, known + self.settings.initial_candidates)
        wanted = min(wanted, self.settings.max_candidates)
        if wanted <= known:
            if known >= self.settings.max_candidates:
                self.graph.mark_exhausted(node)
            return False
        with self.meter.timing_policy():
            candidates = self.policy.propose(self.graph.state(node), wanted)
        known_tactics = {a.tactic for a in attempts}
        fresh = [c for c in sorted_candidates(candidates) if c.tactic not in known_tactics]
        added = self.graph.add_candidates(node, fresh[: wanted - known])
        if not added or len(candidates) < wanted or wanted >= self.settings.max_candidates:
            self.graph.mark_exhausted(node)
        return bool(added)

    def record(self, job: Job, outcome: Outcome) -> Attempt:
        """File the environment's answer to a job in the graph."""
        return self.graph.record(job.state.key, job.tactic, outcome)

    # ---------------------------------------------------------------------------------- evaluate

    def evaluate(self, attempt: Attempt) -> float:
        """The value to back up for a finished action: 1 proved, 0 dead or failed, else the child's value."""
        if attempt.outcome is AttemptOutcome.PROVED:
            return 1.0
        if attempt.outcome is not AttemptOutcome.PROGRESS or self.graph.status(attempt.child) is NodeStatus.FAILED:
            return 0.0
        info = self.graph.info(attempt.child)
        if "value" not in info:
            with self.meter.timing_policy():
                info["value"] = float(self.value.value(self.graph.state(attempt.child)))
        return self.node_value(attempt.child)

    # ------------------------------------------------------------------------------------ backup

    def add_virtual_loss(self, walk: Walk) -> None:
        """Mark a walk as in flight."""
        for step in walk:
            self.virtual[step] = self.virtual.get(step, 0) + 1
        self.in_flight_leaves.add(walk[-1])

    def backup(self, walk: Walk, value: float) -> None:
        """Remove the walk's virtual loss and add one visit with `value` to every action on it."""
        self.in_flight_leaves.discard(walk[-1])
        for node, tactic in walk:
            self.virtual[(node, tactic)] -= 1
            if not self.virtual[(node, tactic)]:
                del self.virtual[(node, tactic)]
            attempt = self.graph.attempt(node, tactic)
            attempt.visits += 1
            attempt.value_sum += value


def mcts_search(
    env: Environment,
    policy: Policy,
    root: State,
    *,
    budget: Budget,
    value: ValueFunction | None = None,
    seed: int = 0,
    settings: MctsSettings | None = None,
    on_step: Callable[[int], None] | None = None,
    executor: Executor | None = None,
    graph: ProofGraph | None = None,
    verify: ProofVerifier | None = None,
) -> SearchResult:
    """Search for a proof of `root` by MCTS; stops at the first (kernel-accepted) proof, a failed
    root, or the budget.

    value: leaf evaluator (default `HeuristicValue()`); executor: runs the steps (default: `env`
    in this thread); graph: a saved graph of this same root to resume from (its statistics are kept);
    verify: the kernel check of a proof found (a rejected one marks its step failed, the search goes on).
    """
    settings = settings or MctsSettings()
    executor = executor or InProcessExecutor(env)
    graph = graph or ProofGraph(root)
    if graph.root != root.key:
        raise ValueError("the graph to resume belongs to another root state")
    meter = Meter(budget, settings.clock)
    run = _Search(graph, policy, value or HeuristicValue(), settings, meter, np.random.default_rng(seed))
    if "value" not in graph.info(graph.root):
        with meter.timing_policy():
            graph.info(graph.root)["value"] = float(run.value.value(root))
    if graph.status(graph.root) is NodeStatus.PROVED:  # a resumed graph that already holds a proof
        return _result(SearchStatus.PROVED, graph.state(QED_KEY).path, graph, meter)
    try:
        proof = _simulate(run, executor, on_step, verify)
    finally:
        executor.cancel()  # whatever is still in flight (a proof was found, the time ran out, or an error)

    if proof is not None:
        status = SearchStatus.PROVED
    elif graph.status(graph.root) is NodeStatus.FAILED:
        status = SearchStatus.EXHAUSTED
    elif meter.out_of_budget():
        status = SearchStatus.OUT_OF_BUDGET
    else:
        raise RuntimeError("MCTS stopped with an open root, nothing in flight and budget left (a search bug)")
    return _result(status, proof, graph, meter)


def _result(status: SearchStatus, proof: tuple[str, ...] | None, graph: ProofGraph, meter: Meter) -> SearchResult:
    return SearchResult(
        status=status,
        proof=proof,
        expansions=meter.expansions,
        seconds=meter.elapsed(),
        policy_seconds=meter.policy_seconds,
        env_seconds=meter.env_seconds,
        verify_seconds=meter.verify_seconds,
        verdict=meter.verdict if proof is not None else None,
        rejected=meter.rejected,
        last_rejection=meter.last_rejection,
        graph=graph,
    )


def _simulate(
    run: _Search, executor: Executor, on_step: Callable[[int], None] | None, verify: ProofVerifier | None
) -> tuple[str, ...] | None:
    """Select, run, evaluate and back up until a proof, a failed root or the budget; return the proof if any.

    Keeps up to `expansions_in_flight` walks in flight, topping up after each result comes back.
    """
    graph, meter, settings = run.graph, run.meter, run.settings
    job_ids = itertools.count()
    in_flight: dict[int, Walk] = {}
    while graph.status(graph.root) is NodeStatus.OPEN:
        while len(in_flight) < settings.expansions_in_flight and not meter.out_of_budget(len(in_flight)):
            walk = run.select()
            if walk is None:
                break
            run.add_virtual_loss(walk)
            job = Job(next(job_ids), graph.state(walk[-1][0]), walk[-1][1])
            in_flight[job.id] = walk
            executor.submit(job)
        if not in_flight or meter.out_of_time():
            return None
        with meter.timing_env():
            job, outcome = executor.collect()
        outcome = meter.check_proof(outcome, verify)
        meter.expansions += 1
        walk = in_flight.pop(job.id)
        attempt = run.record(job, outcome)
        run.backup(walk, run.evaluate(attempt))
        if settings.check_invariants:
            graph.check_invariants()
        if on_step is not None:
            on_step(meter.expansions)
        if isinstance(outcome, Proved):
            return tuple(outcome.path)
    return None

"""Best-first proof search: always expand the most promising open state, the baseline of the field.

Priority is the cumulative log-probability of the tactic path from the root (GPT-f, Polu &
Sutskever 2020, arXiv:2009.03393; ReProver, Yang et al. 2023, arXiv:2306.15626), or, with
`BestFirstSettings(priority="value")`, the score of the `ValueFunction` passed in (a critic).
Ties go to the state reached first, and candidates are tried in an order (log-probability, then
tactic text) that the policy's own ordering cannot change, so the search is deterministic.
Expanding a state asks the policy for candidates once and tries them all; a state reached again by
a likelier route before its expansion is requeued with the better priority.
With `BestFirstSettings(expansion="one")` the frontier orders (state, tactic) edges instead: a
popped state tries only its likeliest untried tactic and is queued again at the priority of its
next one (path log-probability plus the tactic's), so a likely step below the root runs before
the root's unlikely candidates (a slow `hammer` among them) have all been tried.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import itertools
import time
from dataclasses import dataclass
from typing import Callable, Literal, TypeVar

from search.accounting import Clock
from search.engine import Run, run_search
from search.tree import AttemptOutcome, NodeStatus, ProofGraph, sorted_candidates
from search.types import (
    Budget,
    Environment,
    Policy,
    ProofVerifier,
    SearchResult,
    SearchStatus,
    State,
    ValueFunction,
)

__all__ = ["BestFirstSettings", "BestFirstRule", "best_first_edges_search", "best_first_search"]

_PROGRESS = AttemptOutcome.PROGRESS  # read per step: in Python 3.11 an Enum member read through its class is slow

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class BestFirstSettings:
    """Settings of best-first search.

    candidates_per_state: tactics asked of the policy for each expanded state (ReProver uses 64
        with a neural policy; with the Coq portfolio on miniF2F valid, 32 proved 20 of 58 where 8
        proved 17 at 10 s per problem: see benchmarks/minif2f_coq.py).
    states_per_policy_call: frontier states popped together and sent in one `propose_batch` call;
        1 is strict best-first, more trades strictness for fewer, larger model calls.
    clock: seconds source for the wall budget and the timings (inject a fake in tests).
    priority: "log_prob" (cumulative log-probability of the path; the `value` argument is then
        unused) or "value" (the `value` argument's score of the state; it must be given).
    check_invariants: run `ProofGraph.check_invariants()` after every step (tests; costs O(graph)).
    expansion: "all" (try every candidate of a popped state before the next pop; ReProver's) or
        "one" (try its likeliest untried candidate, then queue it again at its next candidate's
        priority; one state per policy call). With priority="value" a state's edges all share the
        state's value, so "one" then interleaves states of equal value step by step.
    """

    candidates_per_state: int = 32
    states_per_policy_call: int = 1
    clock: Clock = time.perf_counter
    priority: Literal["log_prob", "value"] = "log_prob"
    check_invariants: bool = False
    expansion: Literal["all", "one"] = "all"

    def __post_init__(self) -> None:
        if self.candidates_per_state < 1 or self.states_per_policy_call < 1:
            raise ValueError("candidates_per_state and states_per_policy_call must be at least 1")
        if self.priority not in ("log_prob", "value"):
            raise ValueError(f'priority must be "log_prob" or "value", not {self.priority!r}')
        if self.expansion not in ("all", "one"):
            raise ValueError(f'expansion must be "all" or "one", not {self.expansion!r}')


class _Frontier:
    """Max-priority queue of node keys; ties go to the earliest push. Stale entries are skipped on pop."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._counter = itertools.count()

    def push(self, key: str, priority: float, order: int | None = None) -> None:
        """Queue `key`; among equal priorities, the lower `order` first (default: the earlier push)."""
        heapq.heappush(self._heap, (-priority, next(self._counter) if order is None else order, key))

    def pop_expandable(self, count: int, graph: ProofGraph) -> list[str]:
        """Up to `count` distinct open, not yet expanded states, best first."""
        popped: list[str] = []
        while self._heap and len(popped) < count:
            _, _, key = heapq.heappop(self._heap)
            if graph.is_open(key) and not graph.stats(key).expanded and key not in popped:
                popped.append(key)
        return popped

    def pop_current(self, graph: ProofGraph, current: Callable[[str], float | None]) -> str | None:
        """The best open state whose entry still holds its `current` priority (None: nothing to try
        there); entries left behind by a requeue or a tried edge are skipped."""
        while self._heap:
            negated, _, key = heapq.heappop(self._heap)
            if graph.is_open(key) and current(key) == -negated:
                return key
        return None


class BestFirstRule:
    """Best-first as an engine rule: expand the open state of highest priority, trying all its candidates
    (expansion="all") or only its likeliest untried one before it is queued again (expansion="one")."""

    def __init__(self, settings: BestFirstSettings, value: ValueFunction | None) -> None:
        self.settings = settings
        self.value = value  # None: priority is the path's log-probability
        self.frontier = _Frontier()
        self.unfinished: list[str] = []  # resumed states whose expansion the budget cut short
        # expansion="one": equal priorities go to the state reached first, by the graph's order, so that
        # a resumed search (whose frontier is rebuilt) pops exactly as the uninterrupted one would.
        self.reached: dict[str, int] = {}

    def start(self, run: Run) -> None:
        """Queue the root, or every queued state of a resumed search (first reached first)."""
        graph = run.graph
        root_stats = graph.stats(graph.root)
        if root_stats.log_prob is None:
            root_stats.log_prob = 0.0
        if self.settings.expansion == "one":
            self._start_edges(run)
            return
        for key in graph.keys():
            if graph.status(key) is NodeStatus.OPEN and graph.stats(key).log_prob is not None:
                self.frontier.push(key, self._priority(run, key))
        self.unfinished = [k for k in graph.keys() if graph.stats(k).expanded
                           and graph.status(k) is NodeStatus.OPEN and graph.untried(k)]

    def _start_edges(self, run: Run) -> None:
        """Queue every open state with something to try, at its next edge's priority. The policy is
        asked once per state, so an expanded state (a resumed "all" search's too) is exhausted."""
        graph = run.graph
        self.reached = {key: index for index, key in enumerate(graph.keys())}
        for key in graph.keys():
            if graph.status(key) is not NodeStatus.OPEN or graph.stats(key).log_prob is None:
                continue
            if graph.stats(key).expanded and not graph.is_exhausted(key):
                graph.mark_exhausted(key)
            self._push_next_edge(run, key)

    def _push_next_edge(self, run: Run, key: str) -> None:
        """Queue `key` at its next edge's priority, if it is open and has one."""
        priority = self._edge_priority(run, key)
        if priority is not None and run.graph.is_open(key):
            self.frontier.push(key, priority, self.reached.setdefault(key, len(self.reached)))

    def search(self, run: Run) -> tuple[str, ...] | None:
        """Finish the resumed expansions, then pop and expand states until a proof, an empty frontier or the budget."""
        graph, meter, settings = run.graph, run.meter, self.settings
        if settings.expansion == "one":
            return self._search_edges(run)
        proof = None
        while proof is None and self.unfinished and not meter.out_of_budget():
            proof = self._expand(run, self.unfinished.pop(0))
        while proof is None and graph.is_open(graph.root) and not meter.out_of_budget():
            batch = self.frontier.pop_expandable(settings.states_per_policy_call, graph)
            if not batch:
                break
            with meter.timing_policy():
                proposals = run.policy.propose_batch([graph.state(key) for key in batch], settings.candidates_per_state)
            for key, candidates in zip(batch, proposals, strict=True):
                graph.stats(key).expanded = True
                graph.add_candidates(key, sorted_candidates(candidates)[: settings.candidates_per_state])
                proof = self._expand(run, key)
                if proof is not None or meter.out_of_budget():
                    break
        return proof

    def _search_edges(self, run: Run) -> tuple[str, ...] | None:
        """Pop the likeliest (state, tactic) edge and try it, until a proof, an empty frontier or the budget."""
        graph, meter, settings = run.graph, run.meter, self.settings
        proof = None
        current = functools.partial(self._edge_priority, run)
        while proof is None and graph.is_open(graph.root) and not meter.out_of_budget():
            key = self.frontier.pop_current(graph, current)
            if key is None:
                break
            stats = graph.stats(key)
            if stats.expanded:
                proof = self._try_next_edge(run, key)
                continue
            with meter.timing_policy():
                candidates = run.policy.propose_batch([graph.state(key)], settings.candidates_per_state)[0]
            stats.expanded = True
            graph.add_candidates(key, sorted_candidates(candidates)[: settings.candidates_per_state])
            graph.mark_exhausted(key)  # best-first asks the policy once per state
            if run.check_invariants:
                graph.check_invariants()
            self._push_next_edge(run, key)  # its first edge competes with the others queued
        return proof

    def _try_next_edge(self, run: Run, key: str) -> tuple[str, ...] | None:
        """Try the likeliest untried candidate at `key`, queue its child and `key`'s next edge;
        return the proof if the step closes the goals and the kernel accepts it."""
        graph = run.graph
        attempt = graph.untried(key)[0]  # candidates were added likeliest first; a transient failure stays first
        with run.meter.timing_env():
            outcome = run.env.step(graph.state(key), attempt.tactic)
        attempt, proof = run.record_step(key, attempt.tactic, outcome)
        if proof is not None:
            return proof
        if attempt.outcome is _PROGRESS:
            self._queue_child(run, attempt.child, _known(graph.stats(key).log_prob) + attempt.log_prob)
        self._push_next_edge(run, key)
        return None

    def _edge_priority(self, run: Run, key: str) -> float | None:
        """The priority of `key`'s next edge: its own before its expansion (a candidate's log-probability
        is at most 0), else plus its likeliest untried candidate's; None when it has nothing left to try."""
        if not run.graph.stats(key).expanded:
            return self._priority(run, key)
        pending = run.graph.untried(key)
        if not pending:
            return None
        return self._priority(run, key) + (pending[0].log_prob if self.value is None else 0.0)

    def stop(self) -> None:
        """Nothing is held between steps."""

    def stalled(self) -> SearchStatus:
        """An empty frontier with budget left: every reachable state was tried."""
        return SearchStatus.EXHAUSTED

    def _expand(self, run: Run, key: str) -> tuple[str, ...] | None:
        """Try every untried candidate at `key` (one after a transient failure is tried once more); queue
        new children; return the proof if one closes the goals and the kernel accepts it."""
        graph, meter = run.graph, run.meter
        state = graph.state(key)
        while pending := graph.untried(key):
            for attempt in pending:
                if meter.out_of_budget():
                    return None
                with meter.timing_env():
                    outcome = run.env.step(state, attempt.tactic)
                _, proof = run.record_step(key, attempt.tactic, outcome)
                if proof is not None:
                    return proof
                if attempt.outcome is _PROGRESS:
                    self._queue_child(run, attempt.child, _known(graph.stats(key).log_prob) + attempt.log_prob)
        graph.mark_exhausted(key)
        if run.check_invariants:
            graph.check_invariants()
        return None

    def _queue_child(self, run: Run, child: str | None, log_prob: float) -> None:
        """Queue `child` with its path's log-probability, or requeue it if this route is more likely."""
        stats = run.graph.stats(_known(child))
        if stats.expanded or (stats.log_prob is not None and stats.log_prob >= log_prob):
            return
        stats.log_prob = log_prob
        if self.settings.expansion == "one":
            self._push_next_edge(run, _known(child))
        else:
            self.frontier.push(_known(child), self._priority(run, _known(child)))

    def _priority(self, run: Run, key: str) -> float:
        """Cumulative log-probability, or the critic's evaluation when one is given (computed once per state)."""
        stats = run.graph.stats(key)
        if self.value is None:
            stats.priority = stats.log_prob
        elif stats.evaluation is None:
            with run.meter.timing_policy():
                stats.evaluation = self.value.value(run.graph.state(key))
            stats.priority = stats.evaluation
        return _known(stats.priority)


def _known(item: T | None) -> T:
    """`item`, which the rule's bookkeeping guarantees is set."""
    assert item is not None
    return item


def best_first_search(
    env: Environment,
    policy: Policy,
    root: State,
    *,
    budget: Budget,
    value: ValueFunction | None = None,
    seed: int = 0,
    settings: BestFirstSettings | None = None,
    on_step: Callable[[int], None] | None = None,
    graph: ProofGraph | None = None,
    verify: ProofVerifier | None = None,
) -> SearchResult:
    """Search for a proof of `root` best first; stops at the first (kernel-accepted) proof, an empty
    frontier, or the budget.

    `value` is used only with `settings.priority == "value"`; `seed` is accepted for the common
    signature (this search uses no randomness); `graph`: a saved graph of this same root to resume
    (states whose expansion the budget cut short are finished first, then the frontier goes on);
    `verify`: the kernel check of a proof found (a rejected one marks its step failed and the
    search goes on).
    """
    del seed  # deterministic by construction
    settings = settings or BestFirstSettings()
    if settings.priority == "log_prob":
        value = None  # the common signature always passes one; log-probability priority ignores it
    elif value is None:
        raise ValueError('best-first with priority="value" needs a value function')
    return run_search(BestFirstRule(settings, value), env, policy, root, budget=budget, clock=settings.clock,
                      graph=graph, verify=verify, on_step=on_step, check_invariants=settings.check_invariants)


def best_first_edges_search(
    env: Environment,
    policy: Policy,
    root: State,
    *,
    budget: Budget,
    value: ValueFunction | None = None,
    seed: int = 0,
    settings: BestFirstSettings | None = None,
    on_step: Callable[[int], None] | None = None,
    graph: ProofGraph | None = None,
    verify: ProofVerifier | None = None,
) -> SearchResult:
    """`best_first_search` over (state, tactic) edges: `settings` (default `BestFirstSettings()`) with
    expansion="one", so one tactic is tried per pop (see the module docstring)."""
    settings = dataclasses.replace(settings or BestFirstSettings(), expansion="one")
    return best_first_search(env, policy, root, budget=budget, value=value, seed=seed, settings=settings,
                             on_step=on_step, graph=graph, verify=verify)

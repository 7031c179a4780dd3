"""Best-first proof search: always expand the most promising open state, the baseline of the field.

Priority is the cumulative log-probability of the tactic path from the root (GPT-f, Polu &
Sutskever 2020, arXiv:2009.03393; ReProver, Yang et al. 2023, arXiv:2306.15626), or, with
`BestFirstSettings(priority="value")`, the score of the `ValueFunction` passed in (a critic).
Ties go to the state reached first, and candidates are tried in an order (log-probability, then
tactic text) that the policy's own ordering cannot change, so the search is deterministic.
Expanding a state asks the policy for candidates once and tries them all; a state reached again by
a likelier route before its expansion is requeued with the better priority.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass
from typing import Callable, Literal

from search.accounting import Clock, Meter
from search.tree import QED_KEY, AttemptOutcome, NodeStatus, ProofGraph, sorted_candidates
from search.types import (
    Budget,
    Environment,
    Policy,
    ProofVerifier,
    Proved,
    SearchResult,
    SearchStatus,
    State,
    ValueFunction,
)

__all__ = ["BestFirstSettings", "best_first_search"]


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
    """

    candidates_per_state: int = 32
    states_per_policy_call: int = 1
    clock: Clock = time.perf_counter
    priority: Literal["log_prob", "value"] = "log_prob"
    check_invariants: bool = False

    def __post_init__(self) -> None:
        if self.candidates_per_state < 1 or self.states_per_policy_call < 1:
            raise ValueError("candidates_per_state and states_per_policy_call must be at least 1")
        if self.priority not in ("log_prob", "value"):
            raise ValueError(f'priority must be "log_prob" or "value", not {self.priority!r}')


class _Frontier:
    """Max-priority queue of node keys; ties go to the earliest push. Stale entries are skipped on pop."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._counter = itertools.count()

    def push(self, key: str, priority: float) -> None:
        heapq.heappush(self._heap, (-priority, next(self._counter), key))

    def pop_expandable(self, count: int, graph: ProofGraph) -> list[str]:
        """Up to `count` distinct open, not yet expanded states, best first."""
        popped: list[str] = []
        while self._heap and len(popped) < count:
            _, _, key = heapq.heappop(self._heap)
            if graph.status(key) is NodeStatus.OPEN and "expanded" not in graph.info(key) and key not in popped:
                popped.append(key)
        return popped


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
    meter = Meter(budget, settings.clock)
    graph = graph or ProofGraph(root)
    if graph.root != root.key:
        raise ValueError("the graph to resume belongs to another root state")
    graph.info(graph.root).setdefault("log_prob", 0.0)
    frontier = _Frontier()
    for key in graph.keys():  # the root, or every queued state of a resumed search, first reached first
        if graph.status(key) is NodeStatus.OPEN and "log_prob" in graph.info(key):
            frontier.push(key, _priority(graph, key, value, meter))
    unfinished = [k for k in graph.keys() if "expanded" in graph.info(k) and graph.status(k) is NodeStatus.OPEN
                  and graph.untried(k)]
    proof = graph.state(QED_KEY).path if graph.status(graph.root) is NodeStatus.PROVED else None

    while proof is None and unfinished and not meter.out_of_budget():
        proof = _expand(env, graph, unfinished.pop(0), frontier, meter, value, settings, on_step, verify)
    while proof is None and graph.status(graph.root) is NodeStatus.OPEN and not meter.out_of_budget():
        batch = frontier.pop_expandable(settings.states_per_policy_call, graph)
        if not batch:
            break
        with meter.timing_policy():
            proposals = policy.propose_batch([graph.state(key) for key in batch], settings.candidates_per_state)
        for key, candidates in zip(batch, proposals, strict=True):
            graph.info(key)["expanded"] = True
            graph.add_candidates(key, sorted_candidates(candidates)[: settings.candidates_per_state])
            proof = _expand(env, graph, key, frontier, meter, value, settings, on_step, verify)
            if proof is not None or meter.out_of_budget():
                break

    if proof is not None:
        status = SearchStatus.PROVED
    elif graph.status(graph.root) is NodeStatus.FAILED or not meter.out_of_budget():
        status = SearchStatus.EXHAUSTED
    else:
        status = SearchStatus.OUT_OF_BUDGET
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


def _expand(
    env: Environment,
    graph: ProofGraph,
    key: str,
    frontier: _Frontier,
    meter: Meter,
    value: ValueFunction | None,
    settings: BestFirstSettings,
    on_step: Callable[[int], None] | None,
    verify: ProofVerifier | None,
) -> tuple[str, ...] | None:
    """Try every untried candidate at `key` (one after a transient failure is tried once more); queue
    new children; return the proof if one closes the goals and the kernel accepts it."""
    state = graph.state(key)
    while pending := graph.untried(key):
        for attempt in pending:
            if meter.out_of_budget():
                return None
            with meter.timing_env():
                outcome = env.step(state, attempt.tactic)
            outcome = meter.check_proof(outcome, verify)
            meter.expansions += 1
            graph.record(key, attempt.tactic, outcome)
            if settings.check_invariants:
                graph.check_invariants()
            if on_step is not None:
                on_step(meter.expansions)
            if isinstance(outcome, Proved):
                return tuple(outcome.path)
            if attempt.outcome is AttemptOutcome.PROGRESS:
                _queue_child(graph, attempt.child, graph.info(key)["log_prob"] + attempt.log_prob, frontier, meter, value)
    graph.mark_exhausted(key)
    if settings.check_invariants:
        graph.check_invariants()
    return None


def _queue_child(
    graph: ProofGraph, child: str, log_prob: float, frontier: _Frontier, meter: Meter, value: ValueFunction | None
) -> None:
    """Queue `child` with its path's log-probability, or requeue it if this route is more likely."""
    info = graph.info(child)
    if "expanded" in info or info.get("log_prob", float("-inf")) >= log_prob:
        return
    info["log_prob"] = log_prob
    frontier.push(child, _priority(graph, child, value, meter))


def _priority(graph: ProofGraph, key: str, value: ValueFunction | None, meter: Meter) -> float:
    """Cumulative log-probability, or the critic's value when one is given (computed once per state)."""
    info = graph.info(key)
    if value is None:
        info["priority"] = info["log_prob"]
    elif "value" not in info:
        with meter.timing_policy():
            info["value"] = value.value(graph.state(key))
        info["priority"] = info["value"]
    return info["priority"]

"""The one search engine: what every search algorithm shares, so that an algorithm is only its rule.

Shaped after DeepMind's mctx (types first; one engine; algorithms as thin named rules over typed
node statistics): `run_search` checks a resumed graph, starts the `Meter`, returns at once when a
resumed graph already holds a proof, runs the rule, and decides the status and builds the
`SearchResult`; `Run.record_step` is the one path by which a step's outcome enters the graph
(kernel check of a found proof, expansion count, `ProofGraph.record`, invariants, `on_step`).
A rule (`search.best_first.BestFirstRule`, `search.mcts.MctsRule`) decides only which
(state, tactic) to try next and what statistics to keep (`search.tree.NodeStats`, `Attempt`).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from search.accounting import Clock, Meter
from search.tree import QED_KEY, Attempt, NodeStatus, ProofGraph
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
)

__all__ = ["Run", "SearchRule", "run_search", "collector_paced"]

SEARCH_GC_THRESHOLD0 = 20_000
"""The cyclic collector's first-generation threshold while a search runs (Python's default is 700).

A search only adds long-lived records (graph nodes, attempts, MCTS statistics), all freed by
reference counting or kept to the end, so the collector's passes over them find nothing; at the
default they cost a tenth of MCTS's time on the zero-latency fake (benchmarks/search_overhead.py).
Cyclic garbage made meanwhile (a policy's, say) waits at most 20,000 allocations: not disabled."""

_paced_searches = 0
_paced_lock = threading.Lock()
_saved_threshold0 = 0


@contextlib.contextmanager
def collector_paced() -> Iterator[None]:
    """Raise the collector's first threshold to `SEARCH_GC_THRESHOLD0` while any search runs, then restore it.

    Counted, so that concurrent or nested searches (threads) restore the threshold set before the first.
    """
    global _paced_searches, _saved_threshold0
    with _paced_lock:
        if _paced_searches == 0:
            threshold0, threshold1, threshold2 = gc.get_threshold()
            _saved_threshold0 = threshold0
            gc.set_threshold(max(threshold0, SEARCH_GC_THRESHOLD0), threshold1, threshold2)
        _paced_searches += 1
    try:
        yield
    finally:
        with _paced_lock:
            _paced_searches -= 1
            if _paced_searches == 0:
                _, threshold1, threshold2 = gc.get_threshold()
                gc.set_threshold(_saved_threshold0, threshold1, threshold2)


@dataclass
class Run:
    """One search's shared state: the graph, the meter and the callbacks every rule uses."""

    env: Environment
    policy: Policy
    graph: ProofGraph
    meter: Meter
    verify: ProofVerifier | None = None
    on_step: Callable[[int], None] | None = None
    check_invariants: bool = False

    def record_step(self, key: str, tactic: str, outcome: Outcome) -> tuple[Attempt, tuple[str, ...] | None]:
        """File one environment step: kernel-check a found proof, count it, record it, run the checks and hooks.

        Returns the updated attempt and the proof when the step closed every goal (and the kernel,
        when a verifier is given, accepted it).
        """
        outcome = self.meter.check_proof(outcome, self.verify)
        self.meter.expansions += 1
        attempt = self.graph.record(key, tactic, outcome)
        if self.check_invariants:
            self.graph.check_invariants()
        if self.on_step is not None:
            self.on_step(self.meter.expansions)
        return attempt, tuple(outcome.path) if isinstance(outcome, Proved) else None


class SearchRule(Protocol):
    """An algorithm as the engine sees it."""

    def start(self, run: Run) -> None:
        """Set up the rule's statistics on a fresh or resumed graph (before any proof check)."""
        ...

    def search(self, run: Run) -> tuple[str, ...] | None:
        """Step until a proof (returned), a failed root, nothing left to try, or the budget."""
        ...

    def stop(self) -> None:
        """Release what the rule holds (jobs in flight); called however `search` ended."""
        ...

    def stalled(self) -> SearchStatus:
        """The status when `search` returned no proof with an open root and budget left."""
        ...


def run_search(
    rule: SearchRule,
    env: Environment,
    policy: Policy,
    root: State,
    *,
    budget: Budget,
    clock: Clock,
    graph: ProofGraph | None = None,
    verify: ProofVerifier | None = None,
    on_step: Callable[[int], None] | None = None,
    check_invariants: bool = False,
) -> SearchResult:
    """Run `rule` from `root` (or resume `graph`, a saved graph of the same root) and build its result."""
    graph = graph or ProofGraph(root)
    if graph.root != root.key:
        raise ValueError("the graph to resume belongs to another root state")
    run = Run(env, policy, graph, Meter(budget, clock), verify, on_step, check_invariants)
    rule.start(run)
    if graph.status(graph.root) is NodeStatus.PROVED:  # a resumed graph that already holds a proof
        return _result(SearchStatus.PROVED, graph.state(QED_KEY).path, run)
    try:
        with collector_paced():
            proof = rule.search(run)
    finally:
        rule.stop()
    if proof is not None:
        status = SearchStatus.PROVED
    elif graph.status(graph.root) is NodeStatus.FAILED:
        status = SearchStatus.EXHAUSTED
    elif run.meter.out_of_budget():
        status = SearchStatus.OUT_OF_BUDGET
    else:
        status = rule.stalled()
    return _result(status, proof, run)


def _result(status: SearchStatus, proof: tuple[str, ...] | None, run: Run) -> SearchResult:
    meter = run.meter
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
        graph=run.graph,
    )

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
from typing import Callable, Iterable, NamedTuple, Protocol

import numpy as np

from search.accounting import Clock
from search.engine import Run, run_search
from search.executor import Executor, InProcessExecutor, Job
from search.tree import Attempt, AttemptOutcome, NodeStatus, ProofGraph, sorted_candidates
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
from search.values import HeuristicValue

__all__ = ["ActionStats", "SelectionRule", "Puct", "MctsSettings", "MctsRule", "mcts_search"]

# Read on every pass of a walk: in Python 3.11 an Enum member read through its class costs ten global lookups.
_UNTRIED, _PROGRESS, _PROVED_STEP = AttemptOutcome.UNTRIED, AttemptOutcome.PROGRESS, AttemptOutcome.PROVED


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


class _Node:
    """MCTS's view of one graph node, in one slotted record so that a walk reads it without dict lookups.

    key, state, stats, attempts: the graph node's key, state, `NodeStats` and live tactic -> Attempt map.
    exhausted: the graph's flag, mirrored (only `MctsRule.widen` sets it once the search runs).
    visits, value_sum: backups through the node's actions, summed (kept in step with the Attempts).
    known: the number of candidates `priors` was computed for (priors change only when candidates are added).
    priors: tactic -> prior (the softmax of the candidates' log-probabilities, with root noise at the root).
    touched: the actions with a visit or a walk in flight, each scored on every pass.
    fresh: the other actions when `priors` was computed, best first by (log-probability, tactic);
        fresh_from: how many leading entries have since been touched (skipped for good).
    ordered: the priors rise with the log-probabilities (no root noise, no NaN), so PUCT scores the
        untouched actions in `fresh` order, ties included, and only the first selectable one can win.
    virtual, virtual_total: tactic -> walks in flight through the action, and their sum.
    in_flight: tactics whose step from this node is in flight (the leaves of walks in flight).

    The containers hold attempts, not (attempt, prior) pairs, and `in_flight` is a shared empty set
    while nothing is in flight: fewer objects for the garbage collector to walk (a fifth of the
    search's time went to it).
    """

    __slots__ = (
        "attempts",
        "exhausted",
        "fresh",
        "fresh_from",
        "in_flight",
        "key",
        "known",
        "ordered",
        "priors",
        "state",
        "stats",
        "touched",
        "value_sum",
        "virtual",
        "virtual_total",
        "visits",
    )

    def __init__(self, graph: ProofGraph, key: str) -> None:
        self.key, self.state, self.stats = key, graph.state(key), graph.stats(key)
        self.attempts = attempts = graph.attempts_view(key)
        self.exhausted = graph.is_exhausted(key)
        self.visits = sum(a.visits for a in attempts.values()) if attempts else 0
        self.value_sum = math.fsum(a.value_sum for a in attempts.values()) if attempts else 0.0
        self.known = -1  # priors not computed yet
        self.priors: dict[str, float] = {}
        self.touched: list[Attempt] = []
        self.fresh: list[Attempt] = []
        self.fresh_from = 0
        self.ordered = False
        self.virtual: dict[str, int] = {}
        self.virtual_total = 0
        self.in_flight: set[str] | frozenset[str] = _NOTHING_IN_FLIGHT

    def is_touched(self, action: Attempt) -> bool:
        """True once a walk has gone through `action` (it has a visit, or a walk through it is in flight)."""
        return action.visits > 0 or action.tactic in self.virtual

    def value(self) -> float:
        """The node's mean backed-up value, or its first evaluation when nothing was backed up through it."""
        if self.visits:
            return self.value_sum / self.visits
        evaluation = self.stats.evaluation
        return 0.0 if evaluation is None else evaluation


_NOTHING_IN_FLIGHT: frozenset[str] = frozenset()

Walk = list[tuple[_Node, Attempt]]
"""A selection: the (node, action) pairs from the root to the leaf action."""


def _canonical_order(action: Attempt) -> tuple[float, str]:
    """Sort key of `_Node.fresh`: likelier first, then the tactic text (the rule's tie order)."""
    return -action.log_prob, action.tactic


class MctsRule:
    """MCTS as an engine rule: select, run, evaluate and back up; see the module docstring."""

    def __init__(self, settings: MctsSettings, value: ValueFunction, executor: Executor | None, seed: int) -> None:
        self.settings = settings
        self.value = value
        self.executor = executor
        self.rng = np.random.default_rng(seed)
        self.nodes: dict[str, _Node] = {}  # graph key -> MCTS record, made when a walk or a value first needs it
        self.root_noise: dict[str, float] = {}
        self.allowed: list[int] = []  # settings.allowed_candidates(v) at index v, filled as visits grow
        self.exploration: dict[float, tuple[float, float]] = {}  # N -> PUCT's (c(N), sqrt(N)), as computed
        # the default rule is inlined in `pick` (same arithmetic, no call per action); any other is called
        self.puct = settings.selection if type(settings.selection) is Puct else None

    # ------------------------------------------------------------------------------ engine hooks

    def start(self, run: Run) -> None:
        """Bind the run; evaluate the root once (a resumed graph keeps its evaluation)."""
        self.run, self.graph, self.meter = run, run.graph, run.meter
        self.open_keys = run.graph.open_keys  # live set of the open nodes' keys
        # With one walk in flight no walk is selected while another is out, so virtual losses and
        # in-flight leaves would never be read: they are kept only with several in flight.
        self.concurrent = self.settings.expansions_in_flight > 1
        self.executor = self.executor or InProcessExecutor(run.env)
        root_stats = self.graph.stats(self.graph.root)
        if root_stats.evaluation is None:
            with self.meter.timing_policy():
                root_stats.evaluation = float(self.value.value(self.graph.state(self.graph.root)))

    def stop(self) -> None:
        """Drop whatever is still in flight (a proof was found, the time ran out, or an error)."""
        if self.executor is not None:
            self.executor.cancel()

    def stalled(self) -> SearchStatus:
        """MCTS only stops with budget left on a proof or a failed root."""
        raise RuntimeError("MCTS stopped with an open root, nothing in flight and budget left (a search bug)")

    def search(self, run: Run) -> tuple[str, ...] | None:
        """Select, run, evaluate and back up until a proof, a failed root or the budget; return the proof if any.

        Keeps up to `expansions_in_flight` walks in flight, topping up after each result comes back.
        """
        meter, executor, most_in_flight = self.meter, self.executor, self.settings.expansions_in_flight
        assert executor is not None
        job_ids = itertools.count()
        in_flight: dict[int, Walk] = {}
        root, open_keys = self.graph.root, self.open_keys
        while root in open_keys:
            while len(in_flight) < most_in_flight and not meter.out_of_budget(len(in_flight)):
                walk = self.select()
                if walk is None:
                    break
                if self.concurrent:
                    self.add_virtual_loss(walk)
                leaf_node, leaf = walk[-1]
                job = Job(next(job_ids), leaf_node.state, leaf.tactic)
                in_flight[job.id] = walk
                executor.submit(job)
            if not in_flight or meter.out_of_time():
                return None
            with meter.timing_env():
                job, outcome = executor.collect()
            walk = in_flight.pop(job.id)
            attempt, proof = run.record_step(job.state.key, job.tactic, outcome)
            self.backup(walk, self.evaluate(attempt))
            if proof is not None:
                return proof
        return None

    # ------------------------------------------------------------------------------------ select

    def node(self, key: str) -> _Node:
        """The MCTS record of graph node `key` (made on first use, from the graph's statistics)."""
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = _Node(self.graph, key)
        return node

    def select(self) -> Walk | None:
        """Walk from the root to an untried action; None when every open route ends at in-flight work."""
        open_keys, root, nodes, untried = self.open_keys, self.graph.root, self.nodes, _UNTRIED
        while root in open_keys:
            walk: Walk = []
            node = nodes.get(root) or self.node(root)
            while True:
                action = self.pick(node)
                if action is None and not self.has_live_action(node) and self.widen(node, all_dead=True):
                    action = self.pick(node)
                if action is None:
                    break
                walk.append((node, action))
                if action.outcome is untried:
                    return walk
                node = nodes.get(action.child) or self.node(action.child)  # type: ignore[arg-type]  # PROGRESS: a child
            if node.key in open_keys:
                return None  # blocked by in-flight work below `node`
            # `node` just failed (its policy had nothing more): walk again, it is now avoided.
        return None

    def selectable(self, node: _Node) -> list[Attempt]:
        """Actions a walk may take at `node`: untried and not in flight, or leading to an open state."""
        in_flight, open_keys = node.in_flight, self.open_keys
        return [
            a
            for a in node.attempts.values()
            if (a.outcome is _UNTRIED and a.tactic not in in_flight)
            or (a.outcome is _PROGRESS and a.child in open_keys)
        ]

    def has_live_action(self, node: _Node) -> bool:
        """True when some action at `node` is untried (perhaps in flight) or leads to an open state."""
        open_keys = self.open_keys
        return any(
            a.outcome is _UNTRIED or (a.outcome is _PROGRESS and a.child in open_keys)
            for a in node.attempts.values()
        )

    def choose(self, node: _Node, actions: list[Attempt]) -> Attempt:
        """The action the selection rule scores highest; ties to the likelier, then alphabetically first, tactic.

        Each action is seen as `ActionStats`, in-flight walks through it counted as virtual losses.
        """
        priors = self.priors(node)
        first_play_value = node.value()
        virtual_loss, virtual = self.settings.virtual_loss, node.virtual
        parent_visits = 1.0 + node.visits + virtual_loss * (node.virtual_total if virtual else 0)
        rule = self.settings.selection

        def rank(action: Attempt) -> tuple[float, float, str]:
            visits = action.visits + (virtual_loss * virtual.get(action.tactic, 0) if virtual else 0)
            mean = action.value_sum / visits if visits > 0 else first_play_value
            stats = ActionStats(priors[action.tactic], visits, mean, action.log_prob)
            return -rule(stats, parent_visits), -action.log_prob, action.tactic

        return min(actions, key=rank)

    def pick(self, node: _Node) -> Attempt | None:
        """Widen `node` if allowed, then the selection rule's choice among its selectable actions (None: none).

        For `Puct`, `selectable` and `choose` in one pass: the same filter, scores and ties, operation
        for operation. When the priors are ordered (`_Node.ordered`) only the touched actions and the
        first selectable untouched one are scored: an untouched action scores first-play value +
        c * P * sqrt(N), which never rises along `fresh`, and ties go to the earlier one in `fresh`
        too, so no later one can win.
        """
        if not node.exhausted:  # `widen(node, all_dead=False)` does nothing unless the visits allow more candidates
            allowed, visits = self.allowed, node.visits
            wanted = allowed[visits] if visits < len(allowed) else self.allowed_candidates(visits)
            if not wanted <= len(node.attempts) < self.settings.max_candidates:
                self.widen(node, all_dead=False)
        rule = self.puct
        if rule is None:  # any other selection rule: called once per action
            actions = self.selectable(node)
            return self.choose(node, actions) if actions else None
        if node.known != len(node.attempts):
            if not node.attempts:
                return None
            self.priors(node)
        virtual_loss, virtual, priors = self.settings.virtual_loss, node.virtual, node.priors
        parent_visits = 1.0 + node.visits + virtual_loss * (node.virtual_total if virtual else 0)
        explore = self.exploration.get(parent_visits)
        if explore is None:
            explore = self.exploration[parent_visits] = self._exploration(rule, parent_visits)
        c, sqrt_parent = explore
        if node.visits:  # `node.value()`, inlined
            first_play_value = node.value_sum / node.visits
        else:
            first_play_value = 0.0 if node.stats.evaluation is None else node.stats.evaluation
        best: Attempt | None = None
        best_score = -math.inf
        if node.ordered and c >= 0.0:
            candidates: Iterable[Attempt] = node.touched
            fresh, start = node.fresh, node.fresh_from
            first_fresh = fresh[start] if start < len(fresh) else None
            if first_fresh is not None and (first_fresh.visits > 0 or first_fresh.tactic in virtual
                                            or first_fresh.outcome is not _UNTRIED):
                first_fresh = self._first_fresh(node)  # the usual case above: the cursor's action, untried
            if first_fresh is not None:  # no visits, none in flight: the formula below with visits = 0
                best = first_fresh
                best_score = first_play_value + c * priors[first_fresh.tactic] * sqrt_parent / 1.0
        else:  # root noise, NaN priors or a negative constant: score every action
            candidates = node.attempts.values()
        untried, progress, open_nodes = _UNTRIED, _PROGRESS, self.open_keys
        if not virtual:  # nothing in flight below this node: the loop below without virtual visits
            for action in candidates:
                outcome = action.outcome
                if outcome is progress:
                    if action.child not in open_nodes:
                        continue
                elif outcome is not untried:
                    continue
                visits = action.visits
                mean = action.value_sum / visits if visits > 0 else first_play_value
                score = mean + c * priors[action.tactic] * sqrt_parent / (1.0 + visits)
                if best is None or score > best_score or (  # ties: the likelier, then alphabetically first, tactic
                        score == best_score and (-action.log_prob, action.tactic) < (-best.log_prob, best.tactic)):
                    best, best_score = action, score
            return best
        in_flight = node.in_flight
        for action in candidates:
            outcome = action.outcome
            if outcome is untried:
                if action.tactic in in_flight:
                    continue
            elif outcome is not progress or action.child not in open_nodes:
                continue
            visits = action.visits + virtual_loss * virtual.get(action.tactic, 0)
            mean = action.value_sum / visits if visits > 0 else first_play_value
            score = mean + c * priors[action.tactic] * sqrt_parent / (1.0 + visits)
            if best is None or score > best_score or (
                    score == best_score and (-action.log_prob, action.tactic) < (-best.log_prob, best.tactic)):
                best, best_score = action, score
        return best

    @staticmethod
    def _exploration(rule: Puct, parent_visits: float) -> tuple[float, float]:
        """PUCT's exploration constant c(N) and sqrt(N) at N = `parent_visits` (kept per N in `exploration`)."""
        c = rule.c_puct
        if rule.c_base is not None:
            c += math.log((parent_visits + rule.c_base + 1.0) / rule.c_base)
        return c, math.sqrt(parent_visits)

    def _first_fresh(self, node: _Node) -> Attempt | None:
        """The first untouched action in `fresh` order that a walk may take (untried, or to an open state)."""
        fresh, start, virtual = node.fresh, node.fresh_from, node.virtual
        while start < len(fresh) and (fresh[start].visits > 0 or fresh[start].tactic in virtual):
            start += 1  # touched for good: a visit is never taken back
        node.fresh_from = start
        open_keys = self.open_keys
        for index in range(start, len(fresh)):
            action = fresh[index]
            if action.visits > 0 or action.tactic in virtual:
                continue
            if action.outcome is _UNTRIED or (
                    action.outcome is _PROGRESS and action.child in open_keys):
                return action
        return None

    def priors(self, node: _Node) -> dict[str, float]:
        """Softmax of the log-probabilities of every known candidate at `node`, with root noise if set.

        Computed again only when candidates were added; then also sorts the node's actions into
        touched and fresh (see `_Node`)."""
        if node.known == len(node.attempts):
            return node.priors
        attempts = list(node.attempts.values())
        log_probs = [a.log_prob for a in attempts]
        top = max(log_probs)
        if math.isfinite(top):
            weights = [math.exp(log_prob - top) for log_prob in log_probs]
        else:  # every candidate has probability 0 (or a policy sent nonsense): fall back to uniform
            weights = [1.0] * len(attempts)
        total = math.fsum(weights)
        priors = {a.tactic: w / total for a, w in zip(attempts, weights)}
        fraction = self.settings.root_dirichlet_fraction
        noisy = node.key == self.graph.root and fraction > 0.0
        if noisy:
            for tactic in priors:  # drawn once per root candidate, in the canonical candidate order
                if tactic not in self.root_noise:
                    self.root_noise[tactic] = float(self.rng.gamma(self.settings.root_dirichlet_alpha))
            noise_total = math.fsum(self.root_noise[t] for t in priors)
            priors = {t: (1 - fraction) * p + fraction * self.root_noise[t] / noise_total for t, p in priors.items()}
        node.known, node.priors = len(attempts), priors
        node.touched, fresh = [], attempts  # (no action has a visit or a walk in flight)
        if node.visits or node.virtual:
            fresh = []
            for action in attempts:
                (node.touched if node.is_touched(action) else fresh).append(action)
        fresh.sort(key=_canonical_order)
        node.fresh, node.fresh_from = fresh, 0
        node.ordered = not noisy and not any(map(math.isnan, log_probs))
        return priors

    # ------------------------------------------------------------------------------------ expand

    def allowed_candidates(self, visits: int) -> int:
        """`settings.allowed_candidates(visits)`, tabulated (asked on every pass of a walk)."""
        allowed = self.allowed
        while len(allowed) <= visits:
            allowed.append(self.settings.allowed_candidates(len(allowed)))
        return allowed[visits]

    def widen(self, node: _Node, *, all_dead: bool) -> bool:
        """Ask the policy for more candidates at `node` when widening allows it; True if any were added.

        `all_dead`: no known action is usable, so ask for a further batch whatever the visit count.
        A policy that returns fewer candidates than asked, or none new, has nothing more: the node
        is marked exhausted (and fails once its actions have failed).
        """
        if node.exhausted:
            return False
        attempts = node.attempts
        known = len(attempts)
        wanted = self.allowed_candidates(node.visits)
        if all_dead:
            wanted = max(wanted, known + self.settings.initial_candidates)
        wanted = min(wanted, self.settings.max_candidates)
        if wanted <= known:
            if known >= self.settings.max_candidates:
                self.mark_exhausted(node)
            return False
        with self.meter.timing_policy():
            candidates = self.run.policy.propose(node.state, wanted)
        fresh = [c for c in sorted_candidates(candidates) if c.tactic not in attempts]
        added = self.graph.add_candidates(node.key, fresh[: wanted - known])
        if not added or len(candidates) < wanted or wanted >= self.settings.max_candidates:
            self.mark_exhausted(node)
        return bool(added)

    def mark_exhausted(self, node: _Node) -> None:
        """Mark the node exhausted in the graph and in its record."""
        self.graph.mark_exhausted(node.key)
        node.exhausted = True

    # ---------------------------------------------------------------------------------- evaluate

    def evaluate(self, attempt: Attempt) -> float:
        """The value to back up for a finished action: 1 proved, 0 dead or failed, else the child's value."""
        if attempt.outcome is _PROVED_STEP:
            return 1.0
        child = attempt.child
        if attempt.outcome is not _PROGRESS or (child not in self.open_keys
                                                and self.graph.status(child) is NodeStatus.FAILED):  # type: ignore[arg-type]
            return 0.0
        stats = self.graph.stats(child)  # type: ignore[arg-type]
        if stats.evaluation is None:
            with self.meter.timing_policy():
                stats.evaluation = float(self.value.value(self.graph.state(child)))  # type: ignore[arg-type]
        node = self.nodes.get(child)  # type: ignore[arg-type]
        if node is None and not self.graph.attempts_view(child):  # type: ignore[arg-type]
            return stats.evaluation  # a new leaf: no record needed until a walk reaches it (the same value)
        return (node or self.node(child)).value()  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------ backup

    def add_virtual_loss(self, walk: Walk) -> None:
        """Mark a walk as in flight (each action on it becomes touched, see `_Node`)."""
        for node, action in walk:
            tactic = action.tactic
            count = node.virtual.get(tactic, 0)
            if not count and not action.visits:
                node.touched.append(action)
            node.virtual[tactic] = count + 1
            node.virtual_total += 1
        leaf_node, leaf = walk[-1]
        if leaf_node.in_flight:
            leaf_node.in_flight.add(leaf.tactic)  # type: ignore[union-attr]  # a non-empty one is a set
        else:
            leaf_node.in_flight = {leaf.tactic}

    def backup(self, walk: Walk, value: float) -> None:
        """Remove the walk's virtual loss (if kept) and add one visit with `value` to every action on it."""
        if not self.concurrent:
            for node, action in walk:
                if not action.visits:
                    node.touched.append(action)  # touched now (`add_virtual_loss` does it with walks in flight)
                action.visits += 1
                action.value_sum += value
                node.visits += 1
                node.value_sum += value
            return
        leaf_node, leaf = walk[-1]
        leaf_node.in_flight.discard(leaf.tactic)  # type: ignore[union-attr]  # it holds the leaf: a set
        if not leaf_node.in_flight:
            leaf_node.in_flight = _NOTHING_IN_FLIGHT
        for node, action in walk:
            virtual, tactic = node.virtual, action.tactic
            count = virtual[tactic] - 1
            if count:
                virtual[tactic] = count
            else:
                del virtual[tactic]
            node.virtual_total -= 1
            action.visits += 1
            action.value_sum += value
            node.visits += 1
            node.value_sum += value


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
    rule = MctsRule(settings, value or HeuristicValue(), executor, seed)
    return run_search(rule, env, policy, root, budget=budget, clock=settings.clock, graph=graph,
                      verify=verify, on_step=on_step, check_invariants=settings.check_invariants)

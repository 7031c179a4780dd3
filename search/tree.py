"""The proof graph shared by every search: states as nodes, tactics as edges, statuses propagated upward.

Nodes are keyed by `State.key` (the goals' text), so two tactic routes to the same goals meet in one
node (a transposition) and the graph is a DAG; a tactic whose result is an ancestor of its own state
would close a cycle and is refused (recorded as a dead attempt, no edge). A tactic's result is one
state holding all remaining goals, so a node is proved as soon as one child is proved (an OR node),
and failed once the policy has nothing more to offer, every attempt has come back, and every child
has failed. The graph is plain data: searches keep their per-node statistics in a typed `NodeStats`
and their per-edge ones on `Attempt` records, and every export carries them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import networkx as nx

from search.types import Candidate, Failed, Outcome, Progress, Proved, State

__all__ = [
    "QED_KEY", "NodeStatus", "AttemptOutcome", "Attempt", "NodeStats", "InvariantError", "ProofGraph",
    "sorted_candidates",
]

QED_KEY = State(goals=()).key
"""The key of the single terminal node "no goals left" that every `Proved` outcome points to."""

JSON_FORMAT_VERSION = 1

TRANSIENT_RETRIES = 1
"""How many times a step whose failure was transient (interrupted under load, a restarted prover) is
left untried to be tried again before it counts as failed."""


class NodeStatus(str, Enum):
    """Whether a proof state is proved, known to be unprovable with the candidates seen, or still open."""

    OPEN = "open"
    PROVED = "proved"
    FAILED = "failed"


class AttemptOutcome(str, Enum):
    """What became of one candidate tactic at a node."""

    UNTRIED = "untried"  # not sent to the environment yet (or sent and not back)
    PROGRESS = "progress"  # left a new or known state: there is an edge to `child`
    PROVED = "proved"  # closed every goal: there is an edge to the QED node
    FAILED = "failed"  # rejected by the proof assistant (`message` says why)
    DUPLICATE = "duplicate"  # reached a child this node already has through another tactic
    CYCLE = "cycle"  # reached this node itself or one of its ancestors: refused, it cannot help


LIVE_OUTCOMES = (AttemptOutcome.PROGRESS, AttemptOutcome.PROVED)

# Module-level names for the members read on every search step: in Python 3.11 reading an Enum
# member through its class costs about ten times a global lookup.
_UNTRIED, _PROGRESS, _PROVED_STEP = AttemptOutcome.UNTRIED, AttemptOutcome.PROGRESS, AttemptOutcome.PROVED
_OPEN, _PROVED, _FAILED = NodeStatus.OPEN, NodeStatus.PROVED, NodeStatus.FAILED
_EDGE_OUTCOME = {_PROGRESS: _PROGRESS.value, _PROVED_STEP: _PROVED_STEP.value}  # the edges' "outcome" text


class InvariantError(AssertionError):
    """The proof graph is inconsistent (a bug in a search, never a property of the theorem)."""


@dataclass(slots=True)
class Attempt:
    """One candidate tactic at a node and what became of it; mutable, filled in as the search runs.

    tactic, log_prob, source: as in `Candidate`.
    outcome: see `AttemptOutcome`; child: the resulting node's key when the outcome is live.
    message: the proof assistant's error for FAILED attempts (and the last transient failure's).
    failure_kind: the `FailureKind` value of a FAILED attempt ("" otherwise).
    retries: transient failures (interrupted, lost process) met so far; the attempt stays untried
        until it has met `TRANSIENT_RETRIES + 1` of them.
    visits, value_sum: MCTS statistics of this edge (number of backups through it, sum of values).
    """

    tactic: str
    log_prob: float
    source: str = ""
    outcome: AttemptOutcome = AttemptOutcome.UNTRIED
    child: str | None = None
    message: str = ""
    failure_kind: str = ""
    retries: int = 0
    visits: int = 0
    value_sum: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        """Inverse of `to_json`."""
        return cls(**{**data, "outcome": AttemptOutcome(data["outcome"])})


@dataclass(slots=True)
class NodeStats:
    """A search's statistics of one node (mutable, slotted, JSON-ready); None means not computed yet.

    log_prob: best-first's cumulative log-probability of the likeliest route found to the node.
    priority: best-first's queue priority (the log-probability, or the critic's evaluation).
    expanded: best-first asked the policy for this node's candidates.
    evaluation: the `ValueFunction`'s first estimate of the node (best-first's critic, MCTS's leaf value).
    """

    log_prob: float | None = None
    priority: float | None = None
    expanded: bool = False
    evaluation: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields that are set (a node no search touched exports `{}`)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, False)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeStats:
        """Inverse of `to_json`; also reads the untyped `info` dicts of older exports (`value` was the evaluation)."""
        data = dict(data)
        if "value" in data:
            data["evaluation"] = data.pop("value")
        return cls(**data)


class ProofGraph:
    """A search's proof graph on a `networkx.DiGraph`; see the module docstring for the rules.

    Node data: `state` (the first State that reached it), `status`, `attempts` (tactic -> Attempt, in
    the order they were added), `exhausted` (the policy will offer no more candidates), `stats` (the
    search's typed `NodeStats`). Edge data: `tactic`, `log_prob`,
    `outcome` ("progress"/"proved"). MCTS visit counts and value sums live on the `Attempt`s.
    """

    def __init__(self, root: State) -> None:
        self.graph = nx.DiGraph()
        self._data: dict[str, dict[str, Any]] = {}  # key -> networkx's own node-attribute dict (a fast path)
        self._open: set[str] = set()  # keys of the open nodes, kept with each node's "status" (a fast path)
        self.root = root.key
        self._add_node(root)

    # ----------------------------------------------------------------------------------- reading

    def __contains__(self, key: object) -> bool:
        return key in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    def keys(self) -> Iterator[str]:
        """Node keys in insertion order."""
        return iter(self.graph.nodes)

    def state(self, key: str) -> State:
        """The state stored at node `key` (the first route that reached it)."""
        return self._data[key]["state"]

    def status(self, key: str) -> NodeStatus:
        """The node's status."""
        return self._data[key]["status"]

    def is_open(self, key: str) -> bool:
        """True when the node is neither proved nor failed (a hot path of the searches)."""
        return key in self._open

    @property
    def open_keys(self) -> set[str]:
        """The keys of the open nodes: a live set, read-only by contract (for the searches' hot loops)."""
        return self._open

    def is_exhausted(self, key: str) -> bool:
        """True when the policy has been asked for everything it has to offer at this node."""
        return self._data[key]["exhausted"]

    def stats(self, key: str) -> NodeStats:
        """The node's mutable search statistics."""
        return self._data[key]["stats"]

    def attempts(self, key: str) -> list[Attempt]:
        """The node's candidate tactics in the order they were added, with their outcomes."""
        return list(self._data[key]["attempts"].values())

    def attempts_view(self, key: str) -> dict[str, Attempt]:
        """The node's live tactic -> Attempt mapping, in the order added (read-only by contract; no copy, for hot loops)."""
        return self._data[key]["attempts"]

    def attempt(self, key: str, tactic: str) -> Attempt:
        """The attempt of `tactic` at node `key`."""
        return self._data[key]["attempts"][tactic]

    def untried(self, key: str) -> list[Attempt]:
        """Attempts not yet resolved, in the order they were added."""
        return [a for a in self._data[key]["attempts"].values() if a.outcome is _UNTRIED]

    def children(self, key: str) -> list[str]:
        """Keys of the node's children, in edge insertion order."""
        return list(self.graph.successors(key))

    def parents(self, key: str) -> list[str]:
        """Keys of the node's parents (more than one where routes meet)."""
        return list(self.graph.predecessors(key))

    # ----------------------------------------------------------------------------------- writing

    def add_candidates(self, key: str, candidates: Iterable[Candidate]) -> list[Attempt]:
        """Record new candidate tactics at node `key`, skipping tactics it already has; returns the new ones."""
        attempts: dict[str, Attempt] = self._data[key]["attempts"]
        added = []
        for candidate in candidates:
            if candidate.tactic in attempts:
                continue
            attempt = Attempt(candidate.tactic, candidate.log_prob, candidate.source)
            attempts[candidate.tactic] = attempt
            added.append(attempt)
        if added and key not in self._open:
            # Untried candidates reopen a failed node (and its ancestors): the rules decide. (An open
            # node stays open: it has no proved child, and now an untried candidate.)
            self._refresh(key)
        return added

    def mark_exhausted(self, key: str) -> None:
        """Say that the policy has no more candidates for this node (it may now fail)."""
        self._data[key]["exhausted"] = True
        self._refresh(key)

    def record(self, key: str, tactic: str, outcome: Outcome) -> Attempt:
        """Record the environment's answer to `tactic` at node `key`, add the child, propagate statuses.

        The tactic must have been added with `add_candidates`. Returns the updated attempt; its
        `outcome` says whether a new edge was made (PROGRESS/PROVED) or the step was dead. A
        transient failure (`Failed.transient`) leaves the attempt untried the first time, so the
        search tries it again: this is the one place both searches and both backends retry.
        """
        attempt = self._data[key]["attempts"][tactic]
        if attempt.outcome is not _UNTRIED:
            raise ValueError(f"tactic {tactic!r} at this node was already recorded as {attempt.outcome.value}")
        if isinstance(outcome, Progress):
            # A "progress" with no goals left is a proof; file it where every proof goes.
            self._link(key, attempt, outcome.state,
                       _PROGRESS if outcome.state.goals else _PROVED_STEP)
        elif isinstance(outcome, Failed) and outcome.transient and attempt.retries < TRANSIENT_RETRIES:
            # Not a dead end yet: the same step may succeed on a quieter machine or a fresh process.
            attempt.retries += 1
            attempt.message = outcome.message
        elif isinstance(outcome, Failed):
            attempt.outcome, attempt.message = AttemptOutcome.FAILED, outcome.message
            attempt.failure_kind = outcome.kind.value
        elif isinstance(outcome, Proved):
            self._link(key, attempt, State(goals=(), path=tuple(outcome.path)), _PROVED_STEP)
        else:
            raise TypeError(f"not an Outcome: {outcome!r}")
        if attempt.outcome is _UNTRIED or (
                attempt.outcome is _PROGRESS and attempt.child in self._open):
            return attempt  # a step to retry, or a new edge to an open child: the node's status cannot change
        self._refresh(key)
        return attempt

    def _link(self, key: str, attempt: Attempt, child: State, outcome: AttemptOutcome) -> None:
        child_key = child.key
        attempt.child = child_key
        if child_key not in self._data:
            self._add_node(child)
        elif child_key == key or nx.has_path(self.graph, child_key, key):
            attempt.outcome = AttemptOutcome.CYCLE
            return
        elif self.graph.has_edge(key, child_key):
            attempt.outcome = AttemptOutcome.DUPLICATE
            return
        attempt.outcome = outcome
        self.graph.add_edge(key, child_key, tactic=attempt.tactic, log_prob=attempt.log_prob,
                            outcome=_EDGE_OUTCOME[outcome])

    def _add_node(self, state: State) -> None:
        key = state.key
        proved = key == QED_KEY
        status = _PROVED if proved else _OPEN
        self.graph.add_node(key, state=state, status=status, attempts={}, exhausted=proved, stats=NodeStats())
        self._data[key] = self.graph.nodes[key]
        if not proved:
            self._open.add(key)

    def _set_status(self, key: str, status: NodeStatus) -> None:
        self._data[key]["status"] = status
        if status is _OPEN:
            self._open.add(key)
        else:
            self._open.discard(key)

    # ------------------------------------------------------------------------------- propagation

    def _computed_status(self, key: str) -> NodeStatus:
        """The status the rules give node `key` from its children (the single source of truth)."""
        if key == QED_KEY:
            return _PROVED
        nodes = self._data
        children_failed = True
        for child in self.graph.successors(key):
            status = nodes[child]["status"]
            if status is _PROVED:
                return _PROVED
            children_failed = children_failed and status is _FAILED
        data = nodes[key]
        if (data["exhausted"] and children_failed
                and all(a.outcome is not _UNTRIED for a in data["attempts"].values())):
            return _FAILED
        return _OPEN

    def _refresh(self, key: str) -> None:
        """Recompute `key`'s status and carry any change up to every ancestor that depends on it."""
        pending = [key]
        while pending:
            node = pending.pop()
            status = self._computed_status(node)
            if status is not self._data[node]["status"]:
                self._set_status(node, status)
                pending.extend(self.graph.predecessors(node))

    # -------------------------------------------------------------------------------- invariants

    def check_invariants(self) -> None:
        """Raise `InvariantError` unless the graph obeys every rule in the module docstring."""

        def require(condition: bool, message: str) -> None:
            if not condition:
                raise InvariantError(message)

        g = self.graph
        require(self.root in g, "the root is missing")
        require(nx.is_directed_acyclic_graph(g), "the graph has a cycle")
        reachable = nx.descendants(g, self.root) | {self.root}
        require(reachable == set(g.nodes), f"unreachable nodes: {sorted(set(g.nodes) - reachable)[:3]}")
        for key, data in g.nodes(data=True):
            require(data["state"].key == key, f"node {key!r} holds a state with another key")
            require((key in self._open) == (data["status"] is NodeStatus.OPEN), f"open set disagrees at {key!r}")
            require(data["status"] is self._computed_status(key), f"node {key!r} is {data['status'].value}, "
                    f"the rules say {self._computed_status(key).value}")
            live_children = set()
            for tactic, attempt in data["attempts"].items():
                require(attempt.tactic == tactic, f"attempt filed under the wrong tactic at {key!r}")
                if attempt.outcome in LIVE_OUTCOMES:
                    require(g.has_edge(key, attempt.child), f"live attempt {tactic!r} at {key!r} has no edge")
                    require(g.edges[key, attempt.child]["tactic"] == tactic, f"edge tactic differs at {key!r}")
                    require((attempt.child == QED_KEY) == (attempt.outcome is AttemptOutcome.PROVED),
                            f"attempt {tactic!r} at {key!r}: PROVED outcome iff it reaches the QED node")
                    live_children.add(attempt.child)
                elif attempt.outcome in (AttemptOutcome.DUPLICATE, AttemptOutcome.CYCLE):
                    require(attempt.child in g, f"dead attempt {tactic!r} at {key!r} names an unknown child")
            require(live_children == set(g.successors(key)), f"edges of {key!r} do not match its attempts")
        if QED_KEY in g:
            require(g.out_degree(QED_KEY) == 0, "the QED node has children")

    # --------------------------------------------------------------------------------- extraction

    def extract_proof(self, root: str | None = None) -> tuple[str, ...] | None:
        """The shortest tactic path from `root` (default: the graph's root) to "no goals", or None.

        Ties between equally short proofs go to the lexicographically smallest tactic at each step,
        so the answer does not depend on the order in which candidates or children were added.
        """
        root = self.root if root is None else root
        if QED_KEY not in self.graph or self.status(root) is not NodeStatus.PROVED:
            return None
        proved = self.graph.subgraph(k for k in self.graph if self.status(k) is NodeStatus.PROVED)
        distance = nx.single_source_shortest_path_length(proved.reverse(copy=False), QED_KEY)
        tactics: list[str] = []
        node = root
        while node != QED_KEY:
            tactic, node = min(
                (self.graph.edges[node, child]["tactic"], child)
                for child in proved.successors(node)
                if distance.get(child) == distance[node] - 1
            )
            tactics.append(tactic)
        return tuple(tactics)

    # ------------------------------------------------------------------------------------ export

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict holding everything needed to resume or analyse the search.

        State handles are dropped (they are backend cache keys); states keep their paths, which
        rebuild them.
        """
        nodes = []
        for key, data in self.graph.nodes(data=True):
            state: State = data["state"]
            nodes.append({
                "key": key,
                "goals": list(state.goals),
                "path": list(state.path),
                "status": data["status"].value,
                "exhausted": data["exhausted"],
                "attempts": [a.to_json() for a in data["attempts"].values()],
                "info": data["stats"].to_json(),
            })
        edges = [
            {"parent": u, "child": v, "tactic": d["tactic"], "log_prob": d["log_prob"], "outcome": d["outcome"]}
            for u, v, d in self.graph.edges(data=True)
        ]
        return {"format": JSON_FORMAT_VERSION, "root": self.root, "nodes": nodes, "edges": edges}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProofGraph:
        """Rebuild a graph written by `to_json` (statuses are taken as saved, then checked)."""
        if data.get("format") != JSON_FORMAT_VERSION:
            raise ValueError(f"unknown proof-graph format {data.get('format')!r}")
        nodes = {n["key"]: n for n in data["nodes"]}
        root = nodes[data["root"]]
        graph = cls(State(tuple(root["goals"]), tuple(root["path"])))
        for node in data["nodes"]:
            key = node["key"]
            if key not in graph.graph:
                graph._add_node(State(tuple(node["goals"]), tuple(node["path"])))
            graph._set_status(key, NodeStatus(node["status"]))
            graph.graph.nodes[key].update(
                exhausted=node["exhausted"],
                attempts={a["tactic"]: Attempt.from_json(a) for a in node["attempts"]},
                stats=NodeStats.from_json(node["info"]),
            )
        for edge in data["edges"]:
            graph.graph.add_edge(edge["parent"], edge["child"], tactic=edge["tactic"],
                                 log_prob=edge["log_prob"], outcome=edge["outcome"])
        graph.check_invariants()
        return graph

    def save_json(self, path: str | Path) -> None:
        """Write `to_json()` to `path`."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    @classmethod
    def load_json(cls, path: str | Path) -> ProofGraph:
        """Read a graph written by `save_json`."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def _flat_graph(self) -> nx.DiGraph:
        """A copy with only scalar attributes, as GraphML and DOT need."""
        flat = nx.DiGraph()
        for key, data in self.graph.nodes(data=True):
            attempts = data["attempts"].values()
            flat.add_node(
                key,
                goals=key,
                depth=data["state"].depth,
                status=data["status"].value,
                tried=sum(a.outcome is not AttemptOutcome.UNTRIED for a in attempts),
                failed_tactics=sum(a.outcome is AttemptOutcome.FAILED for a in attempts),
                visits=sum(a.visits for a in attempts),
            )
        for u, v, d in self.graph.edges(data=True):
            attempt = self.attempt(u, d["tactic"])
            flat.add_edge(u, v, tactic=d["tactic"], log_prob=d["log_prob"], visits=attempt.visits,
                          mean_value=attempt.value_sum / attempt.visits if attempt.visits else 0.0)
        return flat

    def to_graphml(self, path: str | Path) -> None:
        """Write the graph as GraphML (for Gephi, yEd, networkx.read_graphml)."""
        nx.write_graphml(self._flat_graph(), str(path))

    def to_dot(self) -> str:
        """The graph in Graphviz DOT: green proved, red failed, grey open; edges labelled by tactic."""
        colors = {"proved": "palegreen", "failed": "lightpink", "open": "lightgrey"}
        ids = {key: f"n{i}" for i, key in enumerate(self.graph.nodes)}
        lines = ["digraph proof {", "  node [shape=box, style=filled, fontname=monospace];"]
        for key, data in self._flat_graph().nodes(data=True):
            label = "no goals" if key == QED_KEY else _shorten(key, 200)
            lines.append(f'  {ids[key]} [label="{_dot_escape(label)}", fillcolor={colors[data["status"]]}];')
        for u, v, data in self.graph.edges(data=True):
            lines.append(f'  {ids[u]} -> {ids[v]} [label="{_dot_escape(_shorten(data["tactic"], 60))}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l")


def sorted_candidates(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates best first by log-probability, ties by tactic text: an order the policy's own order cannot change."""
    return sorted(candidates, key=lambda c: (-c.log_prob, c.tactic))

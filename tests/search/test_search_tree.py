"""The proof graph: transpositions, refused cycles, upward propagation, invariants, extraction, exports."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from search.tree import QED_KEY, AttemptOutcome, InvariantError, NodeStatus, ProofGraph
from search.types import Candidate, Failed, Progress, Proved, State


def goal(name: str, *path: str) -> State:
    return State(goals=(name,), path=path)


def graph_with(edges: list[tuple[str, str, str]], root: str = "r") -> ProofGraph:
    """A graph built by recording `(parent, tactic, child)` steps; child QED means a proof."""
    graph = ProofGraph(goal(root))
    paths = {root: ()}
    for parent, tactic, child in edges:
        graph.add_candidates(parent, [Candidate(tactic, -1.0)])
        path = (*paths[parent], tactic)
        outcome = Proved(path) if child == QED_KEY else Progress(goal(child, *path))
        graph.record(parent, tactic, outcome)
        paths.setdefault(child, path)
        graph.check_invariants()
    return graph


def test_identical_goals_share_one_node_and_make_a_dag() -> None:
    graph = graph_with([("r", "a", "x"), ("r", "b", "y"), ("x", "c", "z"), ("y", "d", "z")])
    assert len(graph) == 4
    assert sorted(graph.parents("z")) == ["x", "y"]
    assert nx.is_directed_acyclic_graph(graph.graph)


def test_a_step_back_to_an_ancestor_is_refused_as_a_cycle() -> None:
    graph = graph_with([("r", "a", "x"), ("x", "b", "y")])
    graph.add_candidates("y", [Candidate("back", -1.0), Candidate("stay", -1.0)])
    assert graph.record("y", "back", Progress(goal("r", "a", "b", "back"))).outcome is AttemptOutcome.CYCLE
    assert graph.record("y", "stay", Progress(goal("y", "a", "b", "stay"))).outcome is AttemptOutcome.CYCLE
    assert not graph.graph.has_edge("y", "r") and not graph.graph.has_edge("y", "y")
    graph.check_invariants()


def test_a_second_tactic_to_the_same_child_is_a_duplicate_not_a_second_edge() -> None:
    graph = graph_with([("r", "a", "x")])
    graph.add_candidates("r", [Candidate("a2", -2.0)])
    assert graph.record("r", "a2", Progress(goal("x", "a2"))).outcome is AttemptOutcome.DUPLICATE
    assert graph.graph.edges["r", "x"]["tactic"] == "a"
    graph.check_invariants()


def test_a_proof_below_a_transposition_proves_every_route_to_the_root() -> None:
    graph = graph_with([("r", "a", "x"), ("r", "b", "y"), ("x", "c", "z"), ("y", "d", "z"), ("z", "e", QED_KEY)])
    assert all(graph.status(k) is NodeStatus.PROVED for k in ["r", "x", "y", "z", QED_KEY])


def test_a_node_fails_only_when_exhausted_and_every_child_failed() -> None:
    graph = graph_with([("r", "a", "x"), ("r", "b", "y")])
    graph.add_candidates("x", [Candidate("bad", -1.0)])
    graph.record("x", "bad", Failed("no"))
    assert graph.status("x") is NodeStatus.OPEN  # the policy may still offer more
    graph.mark_exhausted("x")
    assert graph.status("x") is NodeStatus.FAILED
    graph.mark_exhausted("y")  # no candidates at all, nothing tried: nothing can prove y
    assert graph.status("y") is NodeStatus.FAILED
    assert graph.status("r") is NodeStatus.OPEN  # r itself was never marked exhausted
    graph.mark_exhausted("r")
    assert graph.status("r") is NodeStatus.FAILED
    graph.check_invariants()


def test_an_untried_candidate_keeps_an_exhausted_node_open() -> None:
    graph = ProofGraph(goal("r"))
    graph.add_candidates("r", [Candidate("a", -1.0), Candidate("b", -2.0)])
    graph.mark_exhausted("r")
    graph.record("r", "a", Failed("no"))
    assert graph.status("r") is NodeStatus.OPEN
    graph.record("r", "b", Failed("no"))
    assert graph.status("r") is NodeStatus.FAILED


def test_check_invariants_catches_a_wrong_status() -> None:
    graph = graph_with([("r", "a", "x")])
    graph.graph.nodes["x"]["status"] = NodeStatus.PROVED
    with pytest.raises(InvariantError, match="the rules say"):
        graph.check_invariants()


def test_check_invariants_catches_an_edge_without_an_attempt() -> None:
    graph = graph_with([("r", "a", "x")])
    graph.graph.add_edge("x", "r", tactic="sneaky", log_prob=0.0, outcome="progress")
    with pytest.raises(InvariantError):
        graph.check_invariants()


def test_recording_the_same_tactic_twice_is_an_error() -> None:
    graph = graph_with([("r", "a", "x")])
    with pytest.raises(ValueError, match="already recorded"):
        graph.record("r", "a", Failed("again"))


def test_extract_proof_takes_the_shortest_path_and_breaks_ties_alphabetically() -> None:
    long_route = [("r", "a", "x"), ("x", "b", "y"), ("y", "c", QED_KEY)]
    short_routes = [("r", "z", "p"), ("p", "k", QED_KEY), ("r", "m", "q"), ("q", "k", QED_KEY)]
    forward = graph_with(long_route + short_routes)
    backward = graph_with(short_routes[2:] + short_routes[:2] + long_route)
    assert forward.extract_proof() == backward.extract_proof() == ("m", "k")
    assert forward.extract_proof("x") == ("b", "c")


def test_extract_proof_is_none_while_the_root_is_open() -> None:
    assert graph_with([("r", "a", "x")]).extract_proof() is None


def test_json_round_trip_keeps_every_node_edge_attempt_and_status(tmp_path) -> None:
    graph = graph_with([("r", "a", "x"), ("r", "b", "y"), ("y", "d", "x"), ("x", "e", QED_KEY)])
    graph.add_candidates("y", [Candidate("f", -0.5)])
    graph.record("y", "f", Failed("boom"))
    graph.attempt("r", "a").visits = 3
    graph.stats("x").evaluation = 0.25
    data = json.loads(json.dumps(graph.to_json()))
    restored = ProofGraph.from_json(data)
    assert restored.to_json() == graph.to_json()
    assert restored.attempt("y", "f").message == "boom"
    graph.save_json(tmp_path / "g.json")
    assert ProofGraph.load_json(tmp_path / "g.json").to_json() == graph.to_json()


def test_graphml_and_dot_exports_contain_every_node_and_edge(tmp_path) -> None:
    graph = graph_with([("r", "a", "x"), ("x", 'say "hi"', QED_KEY)])
    graph.to_graphml(tmp_path / "g.graphml")
    read = nx.read_graphml(tmp_path / "g.graphml")
    assert read.number_of_nodes() == 3 and read.number_of_edges() == 2
    assert {d["status"] for _, d in read.nodes(data=True)} == {"proved"}
    dot = graph.to_dot()
    assert dot.startswith("digraph proof {") and dot.count("->") == 2
    assert 'label="say \\"hi\\""' in dot


def test_new_candidates_reopen_a_failed_node_and_its_ancestors() -> None:
    graph = graph_with([("r", "a", "x")])
    graph.mark_exhausted("x")
    graph.mark_exhausted("r")
    assert graph.status("r") is NodeStatus.FAILED
    graph.add_candidates("x", [Candidate("late idea", -3.0)])
    assert graph.status("x") is graph.status("r") is NodeStatus.OPEN
    graph.check_invariants()

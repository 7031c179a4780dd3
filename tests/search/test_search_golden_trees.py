"""Golden trees: both searches build exactly the trees they built before the engine's speed work.

The digests below were taken from the code at commit c8bcd08 (before `_Node` records, the
touched/fresh PUCT shortcut and the rest of the speed work) and must not move when the engine is
made faster; a change to a rule that changes trees on purpose updates them and says why. Only the
trees' structure is digested (states, statuses, every attempt's outcome, child and visit count,
the edges), not float text, so another libm cannot move them.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from search_test_fakes import TableEnvironment, TablePolicy

from search.best_first import BestFirstSettings, best_first_search
from search.mcts import MctsSettings, mcts_search
from search.tree import ProofGraph
from search.types import Budget, SearchResult, Theorem

# root --dead--> X (its one tactic fails), --live--> Y, --other--> Z --z--> Y (a transposition);
# every state outside the table is endless: `t<i>` leads to a fresh state, never a proof.
TABLE = {"root": {"dead": "X", "live": "Y", "other": "Z"}, "X": {"boom": None}, "Z": {"z": "Y"}}
WEIGHTS = {"root": {"dead": 0.5, "live": 0.3, "other": 0.2}, "X": {"boom": 1.0}, "Z": {"z": 1.0}}

GOLDEN = {
    "mcts, 1 in flight": "e66db011c59a9a96",
    "mcts, 4 in flight": "f46d43e8b5d423a5",
    "mcts, root noise, 2 in flight": "cfc1e9bf8cd7c8d6",
    "best_first, 6 candidates": "696922d1eb9716d1",
}


def structure_digest(graph: ProofGraph) -> str:
    """A digest of the graph's structure and visit counts (no float values)."""
    data = graph.to_json()
    nodes = [[n["key"], n["status"], n["exhausted"],
              [[a["tactic"], a["outcome"], a["child"], a["visits"], a["retries"]] for a in n["attempts"]]]
             for n in data["nodes"]]
    edges = sorted([e["parent"], e["child"], e["tactic"]] for e in data["edges"])
    return hashlib.sha256(json.dumps([nodes, edges]).encode()).hexdigest()[:16]


def run(name: str) -> SearchResult:
    env = TableEnvironment(TABLE, endless_beyond_table=True)
    policy = TablePolicy(WEIGHTS, endless_beyond_table=True)
    root, budget = env.start(Theorem("t", "root")), Budget(max_expansions=400)
    if name == "best_first, 6 candidates":
        return best_first_search(env, policy, root, budget=budget, settings=BestFirstSettings(candidates_per_state=6))
    settings = {
        "mcts, 1 in flight": MctsSettings(),
        "mcts, 4 in flight": MctsSettings(expansions_in_flight=4),
        "mcts, root noise, 2 in flight": MctsSettings(root_dirichlet_fraction=0.25, expansions_in_flight=2),
    }[name]
    return mcts_search(env, policy, root, budget=budget, settings=settings, seed=7)


@pytest.mark.parametrize("name", GOLDEN)
def test_the_search_builds_the_golden_tree(name: str) -> None:
    result = run(name)
    assert result.expansions == 400
    assert structure_digest(result.graph) == GOLDEN[name]

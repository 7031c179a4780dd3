"""Proof search over protocols only: the proof graph, best-first search and MCTS, value functions.

`ALGORITHMS` maps a search's name to its entry point; all share one signature:
`(env, policy, root, *, budget, value=None, seed=0, settings=None, on_step=None, verify=None) -> SearchResult`
(`verify`: the kernel check of a proof found; a rejected one marks its step failed and the search
goes on), and `SETTINGS` maps it to its settings class.
"""

from search.best_first import BestFirstSettings, best_first_edges_search, best_first_search
from search.executor import Executor, InProcessExecutor, Job
from search.mcts import MctsSettings, Puct, mcts_search
from search.tree import NodeStatus, ProofGraph
from search.values import ConstantValue, HeuristicValue, MinOverGoalsValue, PolicyScoreValue

__all__ = [
    "ALGORITHMS",
    "BestFirstSettings",
    "ConstantValue",
    "Executor",
    "HeuristicValue",
    "InProcessExecutor",
    "Job",
    "MctsSettings",
    "MinOverGoalsValue",
    "NodeStatus",
    "PolicyScoreValue",
    "ProofGraph",
    "Puct",
    "SETTINGS",
    "best_first_edges_search",
    "best_first_search",
    "mcts_search",
]

ALGORITHMS = {"best_first": best_first_search, "best_first_edges": best_first_edges_search, "mcts": mcts_search}
"""Search entry points by the name a config or the CLI uses."""

SETTINGS = {"best_first": BestFirstSettings, "best_first_edges": BestFirstSettings, "mcts": MctsSettings}
"""Each search's settings class by the same names (frozen dataclasses; use `dataclasses.replace`)."""

"""The search's own overhead: expansions per second on a zero-latency fake environment and policy.

Every tactic leads to a fresh state and nothing is ever proved, so each search runs its whole
expansion budget and the time measured is the search's bookkeeping alone (graph updates, selection,
priority queue), the ceiling on how fast a search can drive a real prover.

    .venv/bin/python benchmarks/search_overhead.py [--expansions 20000] [--repeats 3]

Prints a table and writes benchmarks/results/search_overhead.json. Rates per CPU-second are also
given because wall-clock rates on a shared machine move with the load.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Sequence

from search.best_first import BestFirstSettings, best_first_search
from search.mcts import MctsSettings, mcts_search
from search.types import Budget, Candidate, Outcome, Progress, State

RESULTS = Path(__file__).resolve().parent / "results" / "search_overhead.json"


class ZeroLatencyEnvironment:
    """Tactic `t<i>` on goal g gives the fresh goal `g.i` at once; never a proof."""

    def step(self, state: State, tactic: str) -> Outcome:
        return Progress(State(goals=(f"{state.goals[0]}.{tactic[1:]}",), path=(*state.path, tactic)))


class ZeroLatencyPolicy:
    """Offers t0, t1, ... with geometrically falling probabilities, instantly."""

    def __init__(self, width: int = 64) -> None:
        weights = [0.7**i for i in range(width)]
        total = sum(weights)
        self.candidates = [Candidate(f"t{i}", math.log(w / total)) for i, w in enumerate(weights)]

    def propose(self, state: State, n: int) -> list[Candidate]:
        return self.candidates[:n]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.candidates[:n] for _ in states]


CONFIGURATIONS = {
    "best_first (8 candidates/state)": lambda budget: best_first_search(
        ZeroLatencyEnvironment(), ZeroLatencyPolicy(), State(("1",)), budget=budget,
        settings=BestFirstSettings(candidates_per_state=8)),
    "mcts (1 in flight)": lambda budget: mcts_search(
        ZeroLatencyEnvironment(), ZeroLatencyPolicy(), State(("1",)), budget=budget,
        settings=MctsSettings(expansions_in_flight=1)),
    "mcts (8 in flight)": lambda budget: mcts_search(
        ZeroLatencyEnvironment(), ZeroLatencyPolicy(), State(("1",)), budget=budget,
        settings=MctsSettings(expansions_in_flight=8)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expansions", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    budget = Budget(max_expansions=args.expansions)
    rows = []
    for name, search in CONFIGURATIONS.items():
        rates, cpu_rates, nodes = [], [], 0
        for _ in range(args.repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            result = search(budget)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            assert result.expansions == args.expansions
            rates.append(result.expansions / elapsed)
            cpu_rates.append(result.expansions / cpu)
            nodes = len(result.graph)
        rows.append({"search": name, "expansions": args.expansions, "graph_nodes": nodes,
                     "expansions_per_second_median": statistics.median(rates),
                     "expansions_per_cpu_second_median": statistics.median(cpu_rates),
                     "expansions_per_second_all": rates})
        print(f"{name:34s} {statistics.median(rates):>10,.0f} expansions/s wall "
              f"{statistics.median(cpu_rates):>10,.0f} per CPU-second  ({nodes} nodes, median of {args.repeats})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"python": platform.python_version(), "machine": platform.machine(),
                                   "processor": platform.processor(), "results": rows}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

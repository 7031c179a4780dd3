"""The search's own overhead: expansions per second on a zero-latency fake environment and policy.

Every tactic leads to a fresh state and nothing is ever proved, so each search runs its whole
expansion budget and the time measured is the search's bookkeeping alone (graph updates, selection,
priority queue), the ceiling on how fast a search can drive a real prover.

    .venv/bin/python benchmarks/search_overhead.py [--expansions 20000] [--repeats 3]
    .venv/bin/python benchmarks/search_overhead.py --baseline filed=/tmp/old --expansions 10000 --repeats 5

Prints a table and writes benchmarks/results/search_overhead.json. Rates per CPU-second are also
given because wall-clock rates on a shared machine move with the load.

`--baseline [LABEL=]DIR` (repeatable) compares arms in one run: DIR holds another tree of the
project (e.g. `git archive 5f919d6 | tar -x -C DIR`), whose `search` package is timed on this
file's fakes, against this tree ("after"). The arms run one trial each in turn, in fresh processes,
the order rotating every round, so all see the same load; the figures, the ratios to each baseline
and the load averages go to benchmarks/results/search_overhead-before-after.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from search.best_first import BestFirstSettings, best_first_search
from search.mcts import MctsSettings, mcts_search
from search.types import Budget, Candidate, Outcome, Progress, State

RESULTS = Path(__file__).resolve().parent / "results" / "search_overhead.json"
BEFORE_AFTER = RESULTS.with_name("search_overhead-before-after.json")
REPOSITORY = Path(__file__).resolve().parent.parent


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


def one_trial(expansions: int) -> dict[str, dict[str, float | int]]:
    """Run every configuration once in this process: wall and CPU rates, and the graph's size."""
    rows: dict[str, dict[str, float | int]] = {}
    for name, search in CONFIGURATIONS.items():
        start, cpu_start = time.perf_counter(), time.process_time()
        result = search(Budget(max_expansions=expansions))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        assert result.expansions == expansions
        rows[name] = {"wall": result.expansions / elapsed, "cpu": result.expansions / cpu, "nodes": len(result.graph)}
    return rows


def summary(trials: list[dict[str, dict[str, float | int]]]) -> dict[str, dict[str, object]]:
    """Per configuration: median and best wall and CPU rates over the trials, and every trial's rates."""
    out: dict[str, dict[str, object]] = {}
    for name in CONFIGURATIONS:
        wall = [float(t[name]["wall"]) for t in trials]
        cpu = [float(t[name]["cpu"]) for t in trials]
        out[name] = {"expansions_per_second_median": statistics.median(wall), "expansions_per_second_best": max(wall),
                     "expansions_per_cpu_second_median": statistics.median(cpu),
                     "expansions_per_cpu_second_best": max(cpu), "graph_nodes": trials[-1][name]["nodes"],
                     "expansions_per_second_all": wall, "expansions_per_cpu_second_all": cpu}
    return out


def trial_in(tree: Path, expansions: int) -> dict[str, dict[str, float | int]]:
    """One trial in a fresh process whose `search` package is the one in `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--one-trial", "--expansions", str(expansions)]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(baselines: dict[str, Path], expansions: int, repeats: int) -> None:
    """Every arm in turn, `repeats` trials each, the order rotating; print and write the comparison."""
    arms = {**{label: tree.resolve() for label, tree in baselines.items()}, "after": REPOSITORY}
    names = list(arms)
    trials: dict[str, list[dict[str, dict[str, float | int]]]] = {arm: [] for arm in arms}
    load_before = os.getloadavg()
    for repeat in range(repeats):
        for arm in names[repeat % len(names):] + names[: repeat % len(names)]:
            trials[arm].append(trial_in(arms[arm], expansions))
    load_after = os.getloadavg()
    summaries = {arm: summary(trials[arm]) for arm in arms}
    ratios = {f"after/{label}": {name: {kind: summaries["after"][name][f"expansions_per_{kind}_median"]  # type: ignore[operator]
                                        / summaries[label][name][f"expansions_per_{kind}_median"]
                                        for kind in ("second", "cpu_second")} for name in CONFIGURATIONS}
              for label in baselines}
    for name in CONFIGURATIONS:
        figures = "  ".join(f"{arm} {summaries[arm][name]['expansions_per_second_median']:>8,.0f}/s" for arm in names)
        versus = ", ".join(f"x{ratios[f'after/{label}'][name]['cpu_second']:.2f} vs {label}" for label in baselines)
        print(f"{name:32s} {figures}  (per CPU-second: {versus}; medians of {repeats})")
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "method": (f"{repeats} trials per arm of {expansions} expansions per configuration, each trial in a fresh "
                   "process, the arms in turn (the order rotating every round); medians and bests over trials"),
        "arms": {arm: str(tree) for arm, tree in arms.items()},
        "machine": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                    "load_average_1_5_15_before": load_before, "load_average_1_5_15_after": load_after},
        "ratios_of_medians": ratios,
        **summaries,
    }
    BEFORE_AFTER.parent.mkdir(parents=True, exist_ok=True)
    BEFORE_AFTER.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {BEFORE_AFTER}")


def baseline_arm(text: str) -> tuple[str, Path]:
    """`LABEL=DIR` or `DIR` (labelled "before") as given to `--baseline`."""
    label, _, tree = text.rpartition("=")
    return (label or "before"), Path(tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expansions", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=baseline_arm, action="append", default=[], metavar="[LABEL=]DIR",
                        help="another tree of the project to compare against, in the same run (repeatable)")
    parser.add_argument("--one-trial", action="store_true", help=argparse.SUPPRESS)  # a `--baseline` run's child
    args = parser.parse_args()
    if args.one_trial:
        print(json.dumps(one_trial(args.expansions)))
        return
    if args.baseline:
        compare(dict(args.baseline), args.expansions, args.repeats)
        return
    trials = [one_trial(args.expansions) for _ in range(args.repeats)]
    rows = []
    for name, row in summary(trials).items():
        rows.append({"search": name, "expansions": args.expansions, **row})
        print(f"{name:34s} {row['expansions_per_second_median']:>10,.0f} expansions/s wall "
              f"{row['expansions_per_cpu_second_median']:>10,.0f} per CPU-second  "
              f"({row['graph_nodes']} nodes, median of {args.repeats})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"python": platform.python_version(), "machine": platform.machine(),
                                   "processor": platform.processor(), "load_average_1_5_15": os.getloadavg(),
                                   "results": rows}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

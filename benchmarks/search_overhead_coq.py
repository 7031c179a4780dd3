"""The search's own overhead on real Coq: search seconds less prover, policy and kernel-check seconds.

    .venv/bin/python benchmarks/search_overhead_coq.py [--problems 12] [--budget-seconds 10]

Runs the first `--problems` problems of miniF2F-Coq valid sorted by name (a set fixed before any
run; /work/shared/data/minif2f-coq) with the portfolio policy, through `prover.agent.Prover` as
`prove` runs them, under both searches (best-first and MCTS, each problem under both in turn, so
both see the same load). Prints per-search totals and writes
benchmarks/results/search_overhead_coq.json. Two accounts of the overhead:

- engine: each search's own account, `SearchResult.overhead_seconds` (its wall seconds less the
  seconds in the policy and value, in the environment's steps and in kernel checks);
- agent: the agent's `search_seconds` (wall seconds of the search call, kernel checks excluded)
  less its `prover_seconds` and `model_seconds`: the figure issue 18 quotes (5.4% then).

The target is overhead <= 3% of the search time. Statements that do not elaborate are skipped
(no search runs on them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import search
from prover.agent import Prover
from prover.backends import get_backend
from prover.config import ProverConfig
from prover.eval.datasets import load_minif2f_coq, select_problems
from search.types import SearchResult

RESULTS = Path(__file__).resolve().parent / "results" / "search_overhead_coq.json"
SHARED_VALID = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "minif2f-coq"
SEARCHES = ("best_first", "mcts")


class ResultRecorder:
    """Wraps the registered search entry points to keep each `SearchResult` (the agent returns a summary)."""

    def __init__(self) -> None:
        self.last: SearchResult | None = None
        self._saved = dict(search.ALGORITHMS)

    def __enter__(self) -> ResultRecorder:
        for name, entry in self._saved.items():
            search.ALGORITHMS[name] = self._recording(entry)
        return self

    def __exit__(self, *exc: object) -> None:
        search.ALGORITHMS.update(self._saved)

    def _recording(self, entry: Callable[..., SearchResult]) -> Callable[..., SearchResult]:
        def run(*args: Any, **kwargs: Any) -> SearchResult:
            self.last = entry(*args, **kwargs)
            return self.last

        return run


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Summed seconds of one search's rows and both overhead accounts, as seconds and % of search time."""
    sums = {key: round(sum(row[key] for row in rows), 3) for key in (
        "search_seconds", "env_seconds", "policy_seconds", "verify_seconds", "overhead_seconds",
        "agent_search_seconds", "agent_prover_seconds", "agent_model_seconds", "expansions")}
    agent_overhead = sums["agent_search_seconds"] - sums["agent_prover_seconds"] - sums["agent_model_seconds"]
    return {
        "problems": len(rows),
        "proved": sum(row["status"] == "proved" for row in rows),
        **sums,
        "overhead_percent": round(100 * sums["overhead_seconds"] / sums["search_seconds"], 2) if sums["search_seconds"] else None,
        "agent_overhead_seconds": round(agent_overhead, 3),
        "agent_overhead_percent": round(100 * agent_overhead / sums["agent_search_seconds"], 2)
        if sums["agent_search_seconds"] else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=12, help="the first N problems of valid, sorted by name")
    parser.add_argument("--budget-seconds", type=float, default=10.0)
    parser.add_argument("--step-timeout", type=float, default=5.0)
    args = parser.parse_args()
    problems = select_problems(load_minif2f_coq("valid", data_dir=SHARED_VALID), limit=args.problems)
    provers = {name: Prover(ProverConfig(backend="coq", policy="portfolio", search=name,
                                         budget_seconds=args.budget_seconds, step_timeout=args.step_timeout),
                            get_backend("coq")) for name in SEARCHES}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SEARCHES}
    skipped: list[str] = []
    load_before, started = os.getloadavg(), time.monotonic()
    try:
        with ResultRecorder() as recorder:
            for problem in problems:
                if problem.theorem is None:
                    skipped.append(problem.id)
                    continue
                for name in SEARCHES:
                    recorder.last = None
                    outcome = provers[name].prove_theorem(problem.theorem)
                    result = recorder.last
                    if result is None:  # the statement did not elaborate: no search ran
                        skipped.append(f"{problem.id} ({name}: {outcome.status})")
                        continue
                    rows[name].append({
                        "problem": problem.id, "status": outcome.status, "expansions": result.expansions,
                        "search_seconds": result.seconds, "env_seconds": result.env_seconds,
                        "policy_seconds": result.policy_seconds, "verify_seconds": result.verify_seconds,
                        "overhead_seconds": result.overhead_seconds,
                        "agent_search_seconds": outcome.search_seconds, "agent_prover_seconds": outcome.prover_seconds,
                        "agent_model_seconds": outcome.model_seconds,
                    })
                    print(f"{problem.id:28s} {name:10s} {outcome.status:9s} {result.expansions:5d} steps "
                          f"{result.seconds:6.2f} s search, {result.overhead_seconds * 1000:7.1f} ms overhead "
                          f"({100 * result.overhead_fraction:.2f}%)", flush=True)
    finally:
        for prover in provers.values():
            prover.close()
    summary = {name: totals(rows[name]) for name in SEARCHES}
    for name, figures in summary.items():
        print(f"{name:10s} {figures['search_seconds']:8.1f} s search, {figures['env_seconds']:8.1f} s prover, "
              f"{figures['policy_seconds']:6.1f} s policy, {figures['verify_seconds']:6.1f} s kernel: overhead "
              f"{figures['overhead_percent']}% (agent's account {figures['agent_overhead_percent']}%)")
    report = {
        "benchmark": "search overhead on real Coq (miniF2F-Coq valid)",
        "command": f"python benchmarks/search_overhead_coq.py --problems {args.problems} "
                   f"--budget-seconds {args.budget_seconds:g} --step-timeout {args.step_timeout:g}",
        "problems": [p.id for p in problems], "skipped": skipped, "policy": "portfolio",
        "budget_seconds_per_problem": args.budget_seconds, "step_timeout": args.step_timeout,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_1_5_15_before": load_before, "load_average_1_5_15_after": os.getloadavg()},
        "wall_seconds": round(time.monotonic() - started, 1),
        "totals": summary, "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

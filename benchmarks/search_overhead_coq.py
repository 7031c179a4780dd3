"""The search's own overhead on real Coq: search seconds less prover, policy and kernel-check seconds.

    .venv/bin/python benchmarks/search_overhead_coq.py [--problems 12] [--budget-seconds 10]

Runs the first `--problems` problems of miniF2F-Coq valid sorted by name (a set fixed before any
run; /work/shared/data/minif2f-coq) with the portfolio policy under both searches (best-first and
MCTS; each problem under both in turn, so both see the same load), each search as `Prover` runs
it: the search the config names (`prover.agent.configured_search`), one long-lived Coq process per
search, the theorem's deadline (`prover.budget.deadline_scope`) and the kernel check of every proof
found. Prints per-search totals and writes benchmarks/results/search_overhead_coq.json. Two
accounts of the overhead:

- engine: each search's own account, `SearchResult.overhead_seconds` (its wall seconds less the
  seconds in the policy and value, in the environment's steps and in kernel checks);
- caller: the wall seconds of the search call as the caller sees them, kernel checks excluded,
  less prover and policy seconds: the figure issue 18 quotes (5.4% then).

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
from typing import Any

from prover.agent import configured_search
from prover.backends import get_backend
from prover.budget import deadline_scope
from prover.config import ProverConfig
from prover.errors import InputError, ProverError
from prover.eval.datasets import load_minif2f_coq, select_problems
from prover.policies import build_policy, build_value
from search.types import Budget, Environment, Policy, SearchResult, Theorem, ValueFunction

RESULTS = Path(__file__).resolve().parent / "results" / "search_overhead_coq.json"
SHARED_VALID = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "minif2f-coq"
SEARCHES = ("best_first", "mcts")


def search_once(config: ProverConfig, env: Environment, policy: Policy, value: ValueFunction,
                theorem: Theorem) -> tuple[SearchResult, float]:
    """One theorem's search as the agent runs it; the result and the call's wall seconds."""
    root = env.start(theorem)
    observe = getattr(policy, "observe_theorem", None)
    if observe is not None:  # the portfolio's generators read the theorem's file
        observe(theorem)
    run = configured_search(config)
    started = time.monotonic()
    with deadline_scope(config.budget_seconds):
        result = run(env, policy, root, budget=Budget(max_seconds=config.budget_seconds), value=value,
                     seed=config.seed, verify=lambda proof: env.verify(theorem, proof))
    return result, time.monotonic() - started


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Summed seconds of one search's rows and both overhead accounts, as seconds and % of search time."""
    sums = {key: round(sum(row[key] for row in rows), 3) for key in (
        "search_seconds", "env_seconds", "policy_seconds", "verify_seconds", "overhead_seconds",
        "call_seconds", "expansions")}
    caller_search = sums["call_seconds"] - sums["verify_seconds"]
    caller_overhead = caller_search - sums["env_seconds"] - sums["policy_seconds"]
    return {
        "problems": len(rows),
        "proved": sum(row["status"] == "proved" for row in rows),  # kernel-checked in the search
        **sums,
        "overhead_percent": round(100 * sums["overhead_seconds"] / sums["search_seconds"], 2) if sums["search_seconds"] else None,
        "caller_overhead_seconds": round(caller_overhead, 3),
        "caller_overhead_percent": round(100 * caller_overhead / caller_search, 2) if caller_search else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=12, help="the first N problems of valid, sorted by name")
    parser.add_argument("--budget-seconds", type=float, default=10.0)
    parser.add_argument("--step-timeout", type=float, default=5.0)
    args = parser.parse_args()
    problems = select_problems(load_minif2f_coq("valid", data_dir=SHARED_VALID), limit=args.problems)
    configs = {name: ProverConfig(backend="coq", policy="portfolio", search=name, budget_seconds=args.budget_seconds,
                                  step_timeout=args.step_timeout) for name in SEARCHES}
    backend = get_backend("coq")
    policy = build_policy("portfolio", backend="coq")
    value = build_value("heuristic", policy=policy)
    envs = {name: backend.open_environment(step_timeout=args.step_timeout) for name in SEARCHES}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SEARCHES}
    skipped: list[str] = []
    load_before, started = os.getloadavg(), time.monotonic()
    try:
        for problem in problems:
            if problem.theorem is None:
                skipped.append(f"{problem.id} (unreadable)")
                continue
            for name in SEARCHES:
                try:
                    result, call_seconds = search_once(configs[name], envs[name], policy, value, problem.theorem)
                except InputError as invalid:  # the statement does not elaborate: no search
                    skipped.append(f"{problem.id} ({name}: invalid: {invalid})")
                    continue
                except ProverError as failure:  # a crashed or hung Coq: a fresh process for the next one
                    skipped.append(f"{problem.id} ({name}: {failure})")
                    envs[name].close()  # type: ignore[attr-defined]
                    envs[name] = backend.open_environment(step_timeout=args.step_timeout)
                    continue
                rows[name].append({
                    "problem": problem.id, "status": result.status.value, "expansions": result.expansions,
                    "search_seconds": result.seconds, "env_seconds": result.env_seconds,
                    "policy_seconds": result.policy_seconds, "verify_seconds": result.verify_seconds,
                    "overhead_seconds": result.overhead_seconds, "call_seconds": call_seconds,
                })
                print(f"{problem.id:28s} {name:10s} {result.status.value:13s} {result.expansions:5d} steps "
                      f"{result.seconds:6.2f} s search, {result.overhead_seconds * 1000:7.1f} ms overhead "
                      f"({100 * result.overhead_fraction:.2f}%)", flush=True)
    finally:
        for env in envs.values():
            env.close()  # type: ignore[attr-defined]
    summary = {name: totals(rows[name]) for name in SEARCHES}
    for name, figures in summary.items():
        print(f"{name:10s} {figures['search_seconds']:8.1f} s search, {figures['env_seconds']:8.1f} s prover, "
              f"{figures['policy_seconds']:6.1f} s policy, {figures['verify_seconds']:6.1f} s kernel: overhead "
              f"{figures['overhead_percent']}% (caller's account {figures['caller_overhead_percent']}%)")
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
